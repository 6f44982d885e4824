import pytest


@pytest.fixture(autouse=True)
def _no_records_of_other_tests(request):
    """Each usage test counts only its own calls.

    A call made on a helper thread (the Invoke API's) is recorded on that thread's own
    connection, outside the test's transaction: delete what earlier tests left behind.
    """
    marker = request.node.get_closest_marker("django_db")
    if marker is None:
        yield
        return
    request.getfixturevalue("transactional_db" if marker.kwargs.get("transaction") else "db")
    from usage.models import CallRecord, DailyRollup, HourlyRollup, MinuteCounter

    for model in (CallRecord, HourlyRollup, DailyRollup, MinuteCounter):
        model.objects.all().delete()
    yield
