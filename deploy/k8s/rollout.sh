#!/bin/sh
# Roll out an overlay with the migrations first:
#   1. everything except the workloads labelled arbitragevault.io/rollout=after-migrations
#      (namespace, config, secrets of the local overlay, policies, Services, PDBs, the local
#      PostgreSQL and Kafka) and a new migrations Job (a Job's template cannot change, so the
#      previous one is deleted first);
#   2. wait until the Job has completed (stop if it failed);
#   3. the Deployments, the ScaledObject and the HPA, then wait for the Deployments.
# Usage: deploy/k8s/rollout.sh local|production   (kubectl with access to the cluster)
set -eu
overlay=${1:?usage: $0 local|production}
dir="$(cd "$(dirname "$0")" && pwd)/overlays/$overlay"
namespace=${NAMESPACE:-arbitragevault}
timeout=${MIGRATION_TIMEOUT_SECONDS:-900}
phase=arbitragevault.io/rollout

kubectl -n "$namespace" delete job migrate --ignore-not-found --wait=true 2>/dev/null || true
kubectl apply -k "$dir" -l "$phase!=after-migrations"

echo "waiting for the migrations (job/migrate)..."
waited=0
while :; do
  state=$(kubectl -n "$namespace" get job migrate \
    -o jsonpath='{range .status.conditions[?(@.status=="True")]}{.type} {end}')
  case " $state " in
    *" Complete "*) break ;;
    *" Failed "*)
      kubectl -n "$namespace" logs job/migrate --tail=50 || true
      echo "the migrations failed: nothing else was rolled out" >&2
      exit 1 ;;
  esac
  if [ "$waited" -ge "$timeout" ]; then
    echo "the migrations did not finish within ${timeout}s" >&2
    exit 1
  fi
  sleep 5
  waited=$((waited + 5))
done

kubectl apply -k "$dir" -l "$phase=after-migrations"
for deployment in gateway batch-service analysis-service; do
  kubectl -n "$namespace" rollout status "deployment/$deployment" --timeout=10m
done
