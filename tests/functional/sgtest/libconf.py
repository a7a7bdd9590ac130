"""A small libconfig reader and writer.

Enough of the libconfig grammar for spigate's deployment files: settings
`name = value;` (or `name : value`), strings (adjacent literals concatenate),
integers (decimal, hex, with optional L), floats, booleans, arrays [...],
lists (...), groups {...}, and #, // and /* */ comments. Groups load as
dicts, arrays and lists as Python lists.
"""

import re

_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<comment>\#[^\n]*|//[^\n]*|/\*.*?\*/)
  | (?P<string>"(?:[^"\\]|\\.)*")
  | (?P<float>[-+]?(?:\d+\.\d*|\.\d+)(?:[eE][-+]?\d+)?|[-+]?\d+[eE][-+]?\d+)
  | (?P<hex>0[xX][0-9a-fA-F]+L{0,2})
  | (?P<int>[-+]?\d+L{0,2})
  | (?P<bool>(?i:true|false)\b)
  | (?P<name>[A-Za-z*][-A-Za-z0-9_*]*)
  | (?P<punct>[=:;,\[\](){}])
""", re.VERBOSE | re.DOTALL)


class ParseError(ValueError):
    pass


def _tokens(text):
    pos, line = 0, 1
    out = []
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            raise ParseError("line %d: unexpected %r" % (line, text[pos:pos + 20]))
        kind = m.lastgroup
        val = m.group()
        if kind not in ("ws", "comment"):
            out.append((kind, val, line))
        line += val.count("\n")
        pos = m.end()
    out.append(("eof", "", line))
    return out


def _unescape(s):
    body = s[1:-1]
    return re.sub(r'\\(.)', lambda m: {"n": "\n", "t": "\t", "r": "\r",
                                       "f": "\f"}.get(m.group(1), m.group(1)), body)


class _Parser:
    def __init__(self, text):
        self.t = _tokens(text)
        self.i = 0

    def peek(self):
        return self.t[self.i]

    def take(self, want=None):
        tok = self.t[self.i]
        if want is not None and tok[1] != want:
            raise ParseError("line %d: expected %r, got %r" % (tok[2], want, tok[1]))
        self.i += 1
        return tok

    def settings(self, end):
        d = {}
        while self.peek()[1] != end and self.peek()[0] != "eof":
            kind, name, line = self.take()
            if kind != "name":
                raise ParseError("line %d: expected a setting name, got %r" % (line, name))
            sep = self.take()
            if sep[1] not in ("=", ":"):
                raise ParseError("line %d: expected = after %s" % (line, name))
            if name in d:
                raise ParseError("line %d: duplicate setting %s" % (line, name))
            d[name] = self.value()
            if self.peek()[1] in (";", ","):
                self.take()
        return d

    def value(self):
        kind, v, line = self.take()
        if kind == "string":
            s = _unescape(v)
            while self.peek()[0] == "string":
                s += _unescape(self.take()[1])
            return s
        if kind == "int":
            return int(v.rstrip("L"))
        if kind == "hex":
            return int(v.rstrip("L"), 16)
        if kind == "float":
            return float(v)
        if kind == "bool":
            return v.lower() == "true"
        if v == "{":
            d = self.settings("}")
            self.take("}")
            return d
        if v in ("[", "("):
            end = "]" if v == "[" else ")"
            items = []
            while self.peek()[1] != end:
                items.append(self.value())
                if self.peek()[1] == ",":
                    self.take()
                elif self.peek()[1] != end:
                    raise ParseError("line %d: expected , or %s" % (self.peek()[2], end))
            self.take(end)
            return items
        raise ParseError("line %d: unexpected %r" % (line, v))


def loads(text):
    p = _Parser(text)
    d = p.settings(None)
    if p.peek()[0] != "eof":
        raise ParseError("line %d: trailing %r" % (p.peek()[2], p.peek()[1]))
    return d


def load(path):
    with open(path) as f:
        return loads(f.read())


# -- writer ---------------------------------------------------------------

def _scalar(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    raise TypeError("not a libconfig scalar: %r" % (v,))


def value(v, indent=0):
    """libconfig text for v: dict -> group, list of dicts -> list,
    list of scalars -> array."""
    pad = " " * indent
    if isinstance(v, dict):
        inner = " ".join("%s = %s;" % (k, value(x, indent + 2)) for k, x in v.items())
        return "{ " + inner + " }"
    if isinstance(v, (list, tuple)):
        if v and all(isinstance(x, dict) for x in v):
            body = (",\n" + pad + "  ").join(value(x, indent + 2) for x in v)
            return "(\n" + pad + "  " + body + "\n" + pad + ")"
        return "[ " + ", ".join(_scalar(x) for x in v) + " ]"
    return _scalar(v)


def dumps(settings):
    """settings: ordered dict name -> value."""
    return "".join("%s = %s;\n" % (k, value(v)) for k, v in settings.items())
