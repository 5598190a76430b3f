"""A tiny block-style YAML writer for pgwarden configs.

Not PyYAML: the harness should need nothing beyond python3-psycopg and
pytest. Strings are written double-quoted with JSON escapes, which YAML
accepts, so no value can be misread as another type."""

import json


def _scalar(value):
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return json.dumps(str(value), ensure_ascii=False)


def _is_scalar(value):
    return not isinstance(value, (dict, list, tuple))


def dump(obj, indent=0):
    pad = " " * indent
    lines = []
    if isinstance(obj, dict):
        for key, value in obj.items():
            if _is_scalar(value):
                lines.append(f"{pad}{key}: {_scalar(value)}")
            elif isinstance(value, (list, tuple)) and all(_is_scalar(v) for v in value):
                lines.append(f"{pad}{key}: [{', '.join(_scalar(v) for v in value)}]")
            elif isinstance(value, dict) and not value:
                lines.append(f"{pad}{key}: {{}}")
            else:
                lines.append(f"{pad}{key}:")
                lines.append(dump(value, indent + 2))
    elif isinstance(obj, (list, tuple)):
        for item in obj:
            if _is_scalar(item):
                lines.append(f"{pad}- {_scalar(item)}")
            else:
                body = dump(item, indent + 2).splitlines()
                lines.append(f"{pad}- {body[0].lstrip()}")
                lines.extend(body[1:])
    else:
        lines.append(pad + _scalar(obj))
    return "\n".join(lines)
