from django.urls import path

from usage import views

app_name = "usage"

urlpatterns = [
    path("usage/", views.overview, name="overview"),
    path("usage/calls/", views.calls, name="calls"),
    path("usage/calls/<int:pk>/", views.call, name="call"),
    path("usage/integrations/<int:pk>/", views.integration, name="integration"),
    path("usage/prompts/<int:pk>/", views.prompt, name="prompt"),
    path("usage/prompts/<int:pk>/versions/", views.versions, name="versions"),
    path("usage/tokens/<int:pk>/", views.token, name="token"),
    path("usage/features/<path:name>/", views.feature, name="feature"),
]
