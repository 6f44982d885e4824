from django.apps import AppConfig


class PromptsLibraryConfig(AppConfig):
    name = "prompts_library"
    verbose_name = "Prompts and Requests Library"
