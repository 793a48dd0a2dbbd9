"""What korak says again when a reply was lost with a killed process (issue 23, item 6): the
open question in the middle of the intake; once the request is in, that it is in; nothing
where nothing was asked."""

from datetime import datetime, timezone

from dialogs import intake
from dialogs.intake import Ctx, RequestInfo, State

NOW = datetime(2026, 12, 4, 10, 0, tzinfo=timezone.utc)


def msgids(says):
    return [say.text.msgid for say in says]


def test_in_the_middle_of_the_intake_the_open_question():
    state = State(step="place", answers={"consent": "yes"}, lang="sl")
    ctx = Ctx(now=NOW)
    assert msgids(intake.say_again(state, ctx)) == msgids(intake.ask(state, ctx))
    assert intake.say_again(state, ctx)  # there is a question to say


def test_once_the_request_is_in_that_it_is_in():
    request = RequestInfo(12, "new", NOW, "radlje-ob-dravi",
                          {"call_time": "write_here", "name": "Ana"})
    says = intake.say_again(State(step="done", lang="sl"), Ctx(now=NOW, open_request=request))
    assert msgids(says)[0] == "intake.submitted_write"
    assert says[0].text.params["site"].msgid == "site.radlje-ob-dravi"


def test_nothing_where_nothing_was_asked():
    assert intake.say_again(State(step="idle"), Ctx(now=NOW)) == []
    assert intake.say_again(State(step="done"), Ctx(now=NOW)) == []  # request gone (erased)
