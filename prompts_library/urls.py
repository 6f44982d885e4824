from django.urls import path

from prompts_library import api, chain_views, views
from prompts_library.openapi import openapi_json

app_name = "prompts_library"

urlpatterns = [
    path("prompts/", views.prompt_list, name="list"),
    path("prompts/new/", views.new, name="new"),
    path("prompts/new/test/", views.test_new, name="test_new"),
    path("prompts/variables/", views.variables, name="variables"),
    path("prompts/assist/", views.assist, name="assist"),
    path("prompts/export/", views.export, name="export"),
    path("prompts/import/", views.import_view, name="import"),
    path("prompts/tokens/", views.tokens, name="tokens"),
    path("prompts/tokens/<int:pk>/", views.edit_token, name="edit_token"),
    path("prompts/tokens/<int:pk>/revoke/", views.revoke_token, name="revoke_token"),
    path("prompts/tests/<int:pk>/", views.test_status, name="test_status"),
    path("prompts/tests/<int:pk>/events/", views.test_events, name="test_events"),
    path("prompts/affected/<int:integration_pk>/", views.affected, name="affected"),
    path(
        "prompts/affected/<int:integration_pk>/retest/",
        views.retest_affected,
        name="retest_affected",
    ),
    path("prompts/<int:pk>/test/", views.test_draft, name="test_draft"),
    path("prompts/<int:pk>/retest-on-model/", views.retest_on_model, name="retest_on_model"),
    path("prompts/<int:pk>/", views.detail, name="detail"),
    path("prompts/<int:pk>/edit/", views.edit, name="edit"),
    path("prompts/<int:pk>/fallbacks/", chain_views.edit_fallbacks, name="fallbacks"),
    path("prompts/<int:pk>/compare/", views.compare, name="compare"),
    path("prompts/<int:pk>/versions/<int:number>/test/", views.test, name="test"),
    path("prompts/<int:pk>/versions/<int:number>/publish/", views.publish, name="publish"),
    path("prompts/<int:pk>/versions/<int:number>/rollback/", views.rollback, name="rollback"),
    path("api/v1/prompts/<str:ref>/invoke", api.invoke, name="invoke"),
    path("api/v1/openapi.json", openapi_json, name="openapi"),
]
