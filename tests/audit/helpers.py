"""Driving Django admin's forms as a browser would: what the page holds, changed, posted."""

from html.parser import HTMLParser

from audit.models import AuditEvent


class _FormValues(HTMLParser):
    """The values a browser would submit from the page's main form (id ends in _form)."""

    def __init__(self) -> None:
        super().__init__()
        self.data: dict[str, list[str]] = {}
        self.in_form = False
        self.select: str | None = None
        self.textarea: str | None = None

    def _add(self, name: str, value: str) -> None:
        self.data.setdefault(name, []).append(value)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form" and (a.get("id") or "").endswith("_form"):
            self.in_form = True
        if not self.in_form or (not a.get("name") and tag != "option"):
            return
        if tag == "input":
            kind = a.get("type", "text")
            if kind in ("submit", "button", "file", "image"):
                return
            if kind in ("checkbox", "radio") and "checked" not in a:
                return
            self._add(a["name"], a.get("value", "on" if kind == "checkbox" else ""))
        elif tag == "select":
            self.select = a["name"]
            self.data.setdefault(a["name"], [])
        elif tag == "option" and self.select and "selected" in a:
            self._add(self.select, a.get("value", ""))
        elif tag == "textarea":
            self.textarea = a["name"]
            self._add(a["name"], "")

    def handle_data(self, data):
        if self.textarea:
            self.data[self.textarea][-1] += data

    def handle_endtag(self, tag):
        if tag == "select":
            self.select = None
        elif tag == "textarea":
            if self.textarea:
                # Browsers drop the newline right after <textarea>.
                self.data[self.textarea][-1] = self.data[self.textarea][-1].removeprefix("\n")
            self.textarea = None
        elif tag == "form":
            self.in_form = False


def admin_form(client, url: str, **changes) -> dict[str, list[str]]:
    """The form on the admin page at url as a browser would post it, with `changes` applied."""
    page = client.get(url)
    assert page.status_code == 200, (url, page.status_code)
    parser = _FormValues()
    parser.feed(page.text)
    data = parser.data
    for name, value in changes.items():
        data[name] = value if isinstance(value, list) else [str(value)]
    return data


def post_admin_form(client, url: str, **changes):
    r = client.post(url, admin_form(client, url, **changes))
    assert r.status_code == 302, (url, r.status_code, _errors(r))
    return r


def _errors(response) -> str:
    context = getattr(response, "context", None) or {}
    form = context.get("adminform") or context.get("form")
    return str(getattr(form, "errors", "") or getattr(getattr(form, "form", None), "errors", ""))


def latest(**filters) -> AuditEvent | None:
    return AuditEvent.objects.filter(**filters).order_by("-id").first()
