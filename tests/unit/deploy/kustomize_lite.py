"""Rendering deploy/k8s's kustomizations: with `kubectl kustomize` where kubectl exists (the real
kustomize), else with `build` below, a small kustomize for the subset deploy/k8s uses:

- `resources`: files (several YAML documents each) and directories with a kustomization;
- `patches`: strategic-merge patches (from `path` or inline `patch`), matched by apiVersion,
  kind and name, and JSON 6902 patches (`add`, `replace`, `remove`) with a `target`;
- `namespace` (a Namespace object takes the name, as kustomize does) and `images`.

Anything else in a kustomization is refused, so a file using more than this subset fails the
test instead of rendering differently. Strategic merge follows Kubernetes' merge keys for the
lists deploy/k8s patches (containers and volumes by name, env by name, volumeMounts by
mountPath, container ports by containerPort, Service ports by port); other lists, and every
list of a custom resource, are replaced. `tests/unit/deploy` compares this renderer's output
with kubectl's wherever both exist.
"""

from __future__ import annotations

import copy
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

Doc = dict[str, Any]

SUPPORTED_FIELDS = {"apiVersion", "kind", "resources", "namespace", "patches", "images"}
CLUSTER_SCOPED = {
    "Namespace",
    "ClusterRole",
    "ClusterRoleBinding",
    "CustomResourceDefinition",
    "PersistentVolume",
    "StorageClass",
    "PriorityClass",
    "IngressClass",
}
BUILT_IN_GROUPS = {"", "apps", "batch", "policy", "autoscaling"}


class UnsupportedKustomization(ValueError):
    """The kustomization uses something this renderer does not implement."""


def render(directory: Path) -> tuple[list[Doc], str]:
    """The rendered objects of a kustomization and what rendered them."""
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        return build(directory), "kustomize_lite"
    return kubectl_build(directory, kubectl), "kubectl kustomize"


def kubectl_build(directory: Path, kubectl: str) -> list[Doc]:
    done = subprocess.run(
        [kubectl, "kustomize", str(directory)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"kubectl kustomize {directory} failed:\n{done.stderr}")
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


def build(directory: Path) -> list[Doc]:
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
    unknown = set(kustomization) - SUPPORTED_FIELDS
    if unknown:
        raise UnsupportedKustomization(f"{directory}: {sorted(unknown)} not supported")
    docs: list[Doc] = []
    for entry in kustomization.get("resources", []):
        path = directory / entry
        if path.is_dir():
            docs += build(path)
        else:
            docs += [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
    for patch in kustomization.get("patches", []):
        _apply_patch(directory, patch, docs)
    if "namespace" in kustomization:
        for doc in docs:
            if doc["kind"] == "Namespace":
                doc["metadata"]["name"] = kustomization["namespace"]
            elif doc["kind"] not in CLUSTER_SCOPED:
                doc["metadata"]["namespace"] = kustomization["namespace"]
    for image in kustomization.get("images", []):
        _set_image(docs, image)
    return docs


# -- patches --------------------------------------------------------------------------------------
def _apply_patch(directory: Path, patch: dict[str, Any], docs: list[Doc]) -> None:
    unknown = set(patch) - {"path", "patch", "target"}
    if unknown or ("path" in patch) == ("patch" in patch):
        raise UnsupportedKustomization(f"patch {patch}: one of path/patch, and target")
    text = (directory / patch["path"]).read_text() if "path" in patch else patch["patch"]
    parsed = [doc for doc in yaml.safe_load_all(text) if doc is not None]
    target = patch.get("target")
    if len(parsed) == 1 and isinstance(parsed[0], list):  # JSON 6902
        if target is None:
            raise UnsupportedKustomization("a JSON 6902 patch needs a target")
        matched = [doc for doc in docs if _matches_target(doc, target)]
        if not matched:
            raise ValueError(f"patch target {target} matches nothing")
        for doc in matched:
            for op in parsed[0]:
                _json6902(doc, op)
        return
    for smp in parsed:
        matched = [
            doc
            for doc in docs
            if _same_object(doc, smp) and (target is None or _matches_target(doc, target))
        ]
        if not matched:
            raise ValueError(f"patch for {smp['kind']}/{smp['metadata']['name']} matches nothing")
        for doc in matched:
            merged = _merge(doc, smp, builtin=_builtin(doc), path=())
            doc.clear()
            doc.update(merged)


def _builtin(doc: Doc) -> bool:
    group = doc["apiVersion"].rpartition("/")[0]
    return group in BUILT_IN_GROUPS or group.endswith(".k8s.io")


def _same_object(doc: Doc, patch: Doc) -> bool:
    return (doc["apiVersion"], doc["kind"], doc["metadata"]["name"]) == (
        patch["apiVersion"],
        patch["kind"],
        patch["metadata"]["name"],
    )


def _matches_target(doc: Doc, target: dict[str, Any]) -> bool:
    unknown = set(target) - {"group", "version", "kind", "name"}
    if unknown:
        raise UnsupportedKustomization(f"target selector {sorted(unknown)} not supported")
    group, _, version = doc["apiVersion"].rpartition("/")
    actual = {
        "group": group,
        "version": version,
        "kind": doc["kind"],
        "name": doc["metadata"]["name"],
    }
    return all(actual[key] == value for key, value in target.items())


def _merge_key(path: tuple[str, ...], field: str) -> str | None:
    """Kubernetes' patchMergeKey of a list field (a path element "[]" is a list item)."""
    in_container = (
        len(path) >= 2 and path[-1] == "[]" and path[-2] in {"containers", "initContainers"}
    )
    if field in {"containers", "initContainers", "volumes", "imagePullSecrets"}:
        return "name"
    if in_container:
        return {"env": "name", "volumeMounts": "mountPath", "ports": "containerPort"}.get(field)
    if path == ("spec",) and field == "ports":  # a Service's ports
        return "port"
    return None


def _merge(original: Any, patch: Any, *, builtin: bool, path: tuple[str, ...]) -> Any:
    if not (isinstance(original, dict) and isinstance(patch, dict)):
        return copy.deepcopy(patch)
    merged = dict(original)
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        elif key not in merged:
            merged[key] = copy.deepcopy(value)
        elif isinstance(value, list) and isinstance(merged[key], list):
            merge_key = _merge_key(path, key) if builtin else None
            merged[key] = (
                _merge_list(merged[key], value, merge_key, builtin, (*path, key, "[]"))
                if merge_key
                else copy.deepcopy(value)
            )
        else:
            merged[key] = _merge(merged[key], value, builtin=builtin, path=(*path, key))
    return merged


def _merge_list(
    original: list[Any], patch: list[Any], key: str, builtin: bool, path: tuple[str, ...]
) -> list[Any]:
    """As kustomize emits it: the patch's items (merged into their originals) in the patch's
    order, then the original items the patch does not name."""
    named = {item[key] for item in patch}
    result = []
    for item in patch:
        match = next((o for o in original if o.get(key) == item[key]), None)
        result.append(
            copy.deepcopy(item)
            if match is None
            else _merge(match, item, builtin=builtin, path=path)
        )
    result += [o for o in original if o.get(key) not in named]
    return result


def _json6902(doc: Doc, op: dict[str, Any]) -> None:
    kind = op["op"]
    if kind not in {"add", "replace", "remove"}:
        raise UnsupportedKustomization(f"JSON patch op {kind!r} not supported")
    *parents, last = [p.replace("~1", "/").replace("~0", "~") for p in op["path"].split("/")[1:]]
    node: Any = doc
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    if isinstance(node, list):
        if kind == "add":
            node.insert(len(node) if last == "-" else int(last), copy.deepcopy(op["value"]))
        elif kind == "replace":
            node[int(last)] = copy.deepcopy(op["value"])
        else:
            del node[int(last)]
        return
    if kind == "replace" and last not in node:
        raise ValueError(f"replace {op['path']}: nothing there")
    if kind == "remove":
        del node[last]
    else:
        node[last] = copy.deepcopy(op["value"])


# -- images ---------------------------------------------------------------------------------------
def _set_image(docs: list[Doc], image: dict[str, Any]) -> None:
    unknown = set(image) - {"name", "newName", "newTag"}
    if unknown:
        raise UnsupportedKustomization(f"images: {sorted(unknown)} not supported")

    def visit(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in {"containers", "initContainers"} and isinstance(value, list):
                    for container in value:
                        _retag(container, image)
                visit(value)
        elif isinstance(node, list):
            for item in node:
                visit(item)

    for doc in docs:
        visit(doc)


def _retag(container: dict[str, Any], image: dict[str, Any]) -> None:
    current = container.get("image")
    if not isinstance(current, str):
        return
    name, tag = current, ""
    slash = current.rfind("/")
    if current.rfind(":") > slash:
        name, tag = current[: current.rfind(":")], current[current.rfind(":") + 1 :]
    if name != image["name"]:
        return
    name = image.get("newName", name)
    tag = str(image.get("newTag", tag))
    container["image"] = f"{name}:{tag}" if tag else name
