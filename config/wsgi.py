import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

_django = get_wsgi_application()


def application(environ, start_response):
    """Django's WSGI application, with the one header Django cannot parse made safe.

    Django reads a Content-Type's charset before any middleware or error handler runs, and a
    NUL byte in it raises there: the server would answer its own bare 500. The NUL is dropped,
    so the request goes on (and the API answers 415 or 400 as for any other bad header).
    """
    content_type = environ.get("CONTENT_TYPE")
    if content_type and "\x00" in content_type:
        environ["CONTENT_TYPE"] = content_type.replace("\x00", "")
    return _django(environ, start_response)
