"""The app's JSON answers: Chinese written as it is, in the order the schemas give."""

from flask.json.provider import DefaultJSONProvider


class JSONProvider(DefaultJSONProvider):
    ensure_ascii = False
    sort_keys = False

    def dumps(self, obj, **kwargs) -> str:
        text = super().dumps(obj, **kwargs)
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            # a lone surrogate cannot be written as UTF-8; as a \\uXXXX escape it is still valid JSON
            kwargs["ensure_ascii"] = True
            text = super().dumps(obj, **kwargs)
        return text
