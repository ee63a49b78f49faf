"""A Django ASGI app in one module (Debian's python3-django): a sync view, an async view, a POST
echo. Django refuses the lifespan scope, so the worker serves it as "unsupported"."""

from django.conf import settings
from django.urls import path

settings.configure(DEBUG=False, SECRET_KEY="test", ROOT_URLCONF=__name__, ALLOWED_HOSTS=["*"],
                   MIDDLEWARE=[], INSTALLED_APPS=[])

from django.core.asgi import get_asgi_application  # noqa: E402
from django.http import HttpResponse, JsonResponse  # noqa: E402


def sync_view(request):
    return JsonResponse({"path": request.path, "script_name": request.META.get("SCRIPT_NAME", ""),
                         "q": request.GET.get("q")})


async def async_view(request):
    return HttpResponse(b"async ok", content_type="text/plain")


def echo(request):
    return HttpResponse(request.body, content_type="application/octet-stream")


urlpatterns = [path("sync", sync_view), path("async", async_view), path("echo", echo)]
application = get_asgi_application()
