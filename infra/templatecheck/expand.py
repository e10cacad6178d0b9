#!/usr/bin/env python3
"""Print template.yaml as CloudFormation will see it, as JSON.

The SAM transform (policy templates, the roles and policies SAM adds, the
permissions and event source mappings of each event) is run offline by the
translator cfn-lint bundles (aws-sam-translator), the same one `sam validate`
and the CloudFormation transform use. Usage: expand.py template.yaml
"""
import json
import sys

from cfnlint.decode import decode
from cfnlint.template.transforms._sam import Transform


def main() -> int:
    path = sys.argv[1]
    template, matches = decode(path)
    if matches:
        for m in matches:
            print(f"{path}: {m}", file=sys.stderr)
        return 1
    transform = Transform(path, template, "eu-central-1")
    errors = transform.transform_template()
    if errors:
        for m in errors:
            print(f"{path}: {m.message}", file=sys.stderr)
        return 1
    json.dump(transform.template(), sys.stdout, indent=1, sort_keys=True, default=str)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
