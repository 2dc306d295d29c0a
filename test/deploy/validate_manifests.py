"""Validates the manifests `helm template` rendered, offline.

usage: validate_manifests.py <rendered.yaml> <kubernetes version> <crd folder>

Built-in kinds go to kubernetes-validate (schemas bundled for the pinned Kubernetes version, --strict:
unknown fields are errors). Custom resources go to Python jsonschema against the openAPIV3Schema of
their CRD file in <crd folder>, made strict the way the API server's field validation is: an object
schema that lists its properties and does not preserve unknown fields refuses any other field.
Prints one JSON line: {"validated": [[apiVersion, kind, name, validator], ...], "errors": [...]}.
"""

import copy
import glob
import json
import os
import subprocess
import sys
import tempfile

import jsonschema
import yaml


BUILTIN_GROUPS = {"", "apps", "batch", "policy", "autoscaling", "networking.k8s.io", "rbac.authorization.k8s.io"}


def group_of(api_version):
    return api_version.split("/")[0] if "/" in api_version else ""


def crd_schemas(folder):
    schemas = {}
    for path in sorted(glob.glob(os.path.join(folder, "*.yaml"))):
        with open(path, encoding="utf-8") as f:
            crd = yaml.safe_load(f)
        group = crd["spec"]["group"]
        kind = crd["spec"]["names"]["kind"]
        for version in crd["spec"]["versions"]:
            schema = version["schema"]["openAPIV3Schema"]
            schemas[(f"{group}/{version['name']}", kind)] = strict(copy.deepcopy(schema))
    return schemas


def strict(schema):
    if isinstance(schema, dict):
        if (
            schema.get("type") == "object"
            and "properties" in schema
            and "additionalProperties" not in schema
            and not schema.get("x-kubernetes-preserve-unknown-fields", False)
        ):
            schema["additionalProperties"] = False
        for key, value in schema.items():
            if key in ("properties", "patternProperties", "definitions"):
                for child in value.values():
                    strict(child)
            elif isinstance(value, (dict, list)):
                strict(value)
    elif isinstance(schema, list):
        for item in schema:
            strict(item)
    return schema


def main():
    rendered, k8s_version, crd_folder = sys.argv[1:4]
    with open(rendered, encoding="utf-8") as f:
        documents = [d for d in yaml.safe_load_all(f) if d]
    schemas = crd_schemas(crd_folder)
    validated, errors, builtin = [], [], []
    for doc in documents:
        key = (doc.get("apiVersion", ""), doc.get("kind", ""))
        name = doc.get("metadata", {}).get("name", "")
        if key in schemas:
            validator = jsonschema.Draft7Validator(schemas[key])
            problems = sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path))
            for problem in problems:
                path = ".".join(str(p) for p in problem.absolute_path)
                errors.append(f"{key[1]}/{name}: {path}: {problem.message}")
            validated.append([key[0], key[1], name, "crd-schema"])
        elif group_of(key[0]) not in BUILTIN_GROUPS:
            errors.append(f"{key[1]}/{name}: no schema for {key[0]} (vendor its CRD)")
        else:
            builtin.append(doc)
    if builtin:
        with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False, encoding="utf-8") as tmp:
            yaml.safe_dump_all(builtin, tmp)
        try:
            result = subprocess.run(
                [
                    os.path.join(os.path.dirname(sys.executable), "kubernetes-validate"),
                    "--strict",
                    "--kubernetes-version",
                    k8s_version,
                    tmp.name,
                ],
                capture_output=True,
                text=True,
                timeout=300,
            )
        finally:
            os.unlink(tmp.name)
        for line in (result.stdout + result.stderr).splitlines():
            if line.startswith("INFO") or not line.strip():
                continue
            errors.append(line)
        if result.returncode != 0 and not errors:
            errors.append(f"kubernetes-validate exited {result.returncode}")
        for doc in builtin:
            validated.append(
                [doc.get("apiVersion"), doc.get("kind"), doc.get("metadata", {}).get("name"), "kubernetes-validate"]
            )
    print(json.dumps({"validated": validated, "errors": errors}))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
