from django.urls import path

from integrations import views

app_name = "integrations"

urlpatterns = [
    path("integrations/new/", views.new, name="new"),
    path("integrations/test/", views.test, name="test"),
    path("integrations/assist/", views.assist, name="assist"),
    path("integrations/tests/<int:pk>/", views.test_status, name="test_status"),
    path("integrations/tests/<int:pk>/events/", views.test_events, name="test_events"),
    path("integrations/<int:pk>/", views.detail, name="detail"),
    path("integrations/<int:pk>/edit/", views.edit, name="edit"),
    path("integrations/<int:pk>/retest/", views.retest, name="retest"),
    path("integrations/<int:pk>/fallbacks/", views.edit_fallbacks, name="fallbacks"),
]
