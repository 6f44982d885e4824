from django.apps import AppConfig


class PromptsLibraryConfig(AppConfig):
    name = "prompts_library"
    verbose_name = "Prompts and Requests Library"

    def ready(self) -> None:
        # Registers the tasks that run this app's tests: services enqueue through runs.
        from prompts_library import tasks  # noqa: F401
