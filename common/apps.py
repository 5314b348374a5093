from django.apps import AppConfig


class CommonConfig(AppConfig):
    name = "common"
    verbose_name = "Common"

    def ready(self) -> None:
        from django.tasks.signals import task_finished

        from common.tasks import task_retry_or_give_up

        # Every failed task, whichever app defined it, runs again (or gives up) here.
        task_finished.connect(task_retry_or_give_up, dispatch_uid="common.tasks.retry")
