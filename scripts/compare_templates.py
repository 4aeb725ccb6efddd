#!/usr/bin/env python3
"""Compares `mliy template inspect` with an independent reading of CloudFormation templates.

Usage: python3 scripts/compare_templates.py DIR [MLIY_BINARY]

Every `.json`, `.yaml`, `.yml` and `.template` file under DIR is read twice: by
`mliy template inspect --json`, and here with PyYAML's BaseLoader (every scalar a string, as
CloudFormation reads them; any `!Tag` kept) or Python's json module (duplicate keys refused).
Both readings are reduced to what a template declares -- parameters with type, default,
allowed values and NoEcho; output names; resource types (`Fn::ForEach::` loops aside) -- and
compared. Prints the share read the same and each difference. Needs PyYAML (moto brings it).
"""

import json
import pathlib
import subprocess
import sys

import yaml


class Loader(yaml.BaseLoader):
    """Strings everywhere, tags kept as `{"!Tag": value}`."""


def _tagged(loader, suffix, node):
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {"!" + suffix: value}


Loader.add_multi_constructor("!", _tagged)


def _no_duplicates(pairs):
    keys = [k for k, _ in pairs]
    if len(keys) != len(set(keys)):
        raise ValueError("duplicate key")
    return dict(pairs)


def independent(text):
    text = text.lstrip("\ufeff")
    if text.lstrip().startswith("{"):
        try:
            return json.loads(text, object_pairs_hook=_no_duplicates, parse_float=str, parse_int=str)
        except ValueError:
            pass
    return yaml.load(text, Loader=Loader)


def scalar(v):
    if isinstance(v, dict) and len(v) == 1:  # a tagged or one-key value: "Tag value"
        (key, value), = v.items()
        return f"{key} {scalar(value)}"
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def reduce_independent(doc):
    params = {}
    for name, decl in (doc.get("Parameters") or {}).items():
        allowed = decl.get("AllowedValues")
        params[name] = (
            scalar(decl.get("Type")),
            scalar(decl.get("Default")),
            [scalar(a) for a in allowed] if isinstance(allowed, list) else None,
            scalar(decl.get("NoEcho")).lower() == "true",
        )
    outputs = sorted((doc.get("Outputs") or {}).keys())
    resources = {k: scalar(v.get("Type")) for k, v in (doc.get("Resources") or {}).items()
                 if not k.startswith("Fn::ForEach::")}
    return params, outputs, resources


def reduce_mliy(out):
    params = {p["name"]: (p["type"], p["default"] or "", p["allowed_values"], p["no_echo"])
              for p in out["parameters"]}
    return params, sorted(out["outputs"]), out["resources"]


def main():
    root = pathlib.Path(sys.argv[1])
    binary = sys.argv[2] if len(sys.argv) > 2 else "target/release/mliy"
    files = sorted(p for p in root.rglob("*") if p.suffix in (".json", ".yaml", ".yml", ".template"))
    same, differ, skipped = 0, [], 0
    for path in files:
        text = path.read_text(errors="replace")
        try:
            doc = independent(text)
        except Exception:  # not a document the independent reader takes either
            skipped += 1
            continue
        if not isinstance(doc, dict) or "Resources" not in doc:
            skipped += 1  # not a CloudFormation template (a parameter file, a policy, ...)
            continue
        run = subprocess.run([binary, "template", "inspect", str(path), "--json"], capture_output=True, text=True)
        if run.returncode != 0:
            differ.append((path, "refused: " + run.stdout.strip().replace("\n", " ")[:200]))
            continue
        ours, theirs = reduce_mliy(json.loads(run.stdout)), reduce_independent(doc)
        if ours == theirs:
            same += 1
        else:
            what = [n for n, a, b in zip(("parameters", "outputs", "resources"), ours, theirs) if a != b]
            differ.append((path, "differs in " + ", ".join(what)))
    total = same + len(differ)
    print(f"{same} of {total} templates read the same ({100 * same / max(total, 1):.1f}%); "
          f"{skipped} files are not templates")
    for path, why in differ:
        print(f"  {path.relative_to(root)}: {why}")


if __name__ == "__main__":
    main()
