from django.apps import AppConfig


class UsageConfig(AppConfig):
    name = "usage"
    verbose_name = "Usage"

    def ready(self) -> None:
        from bedrock import observe
        from usage import recording

        # Every model call, whoever makes it, is written down once (usage.recording).
        observe.add_observer(recording.record_call)
