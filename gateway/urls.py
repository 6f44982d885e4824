from django.urls import path

from gateway import views

app_name = "gateway"

urlpatterns = [
    path("api/v1/models", views.models, name="models"),
    path("api/v1/models/<str:name>", views.model, name="model"),
    path("api/v1/chat/completions", views.chat_completions, name="chat_completions"),
]
