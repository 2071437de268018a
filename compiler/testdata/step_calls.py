"""The AWS API calls an aws:executeScript step can make, for the tests.

Reads a JSON list of {"id", "script", "handler"} on stdin and prints a JSON
object {id: ["ec2:DescribeSnapshots", ...]}: every EC2 and Systems Manager
operation called, directly or through a paginator, by the handler or by any
function or method of the script it calls, transitively (by name, so a call
to a method of the same name anywhere in the script counts: the list can
only be too long, never too short). Operation names come from botocore's
own models, so the IAM action is the service prefix and the API name.
"""

import ast
import json
import sys

import boto3

SERVICES = {
    name: boto3.client(name, region_name="us-east-1").meta.method_to_api_mapping
    for name in ("ec2", "ssm")
}


def calls(script, handler):
    tree = ast.parse(script)
    functions = {}
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            functions.setdefault(node.name, []).append(node)
    seen, todo, out = set(), [handler], set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        for fn in functions.get(name, []):
            for node in ast.walk(fn):
                if not isinstance(node, ast.Call):
                    continue
                f = node.func
                if isinstance(f, ast.Name):
                    todo.append(f.id)
                    continue
                if not isinstance(f, ast.Attribute):
                    continue
                todo.append(f.attr)
                method = f.attr
                if method == "get_paginator" and node.args and isinstance(node.args[0], ast.Constant):
                    method = node.args[0].value
                for service, mapping in SERVICES.items():
                    if method in mapping:
                        out.add(service + ":" + mapping[method])
    if handler not in functions:
        raise SystemExit("handler %s is not a function of the script" % handler)
    return sorted(out)


def main():
    steps = json.load(sys.stdin)
    json.dump({s["id"]: calls(s["script"], s["handler"]) for s in steps}, sys.stdout)


if __name__ == "__main__":
    main()
