"""A person's words in a staff message: nothing that turns a line around or hides a word, and
no command a coordinator could run by tapping it."""

from dialogs.replies import COMMAND_SLASH, fence, one_line, plain


def test_control_and_format_characters_go():
    assert plain("Ana\u202eakavoN\u2066x\u2069\u200b\u200d\x07") == "AnaakavoNx"
    assert one_line("Ana\u202e\nNovak\u2028") == "Ana Novak"


def test_a_command_in_someones_words_cannot_be_tapped():
    assert plain("/odsotna do petka") == f"{COMMAND_SLASH}odsotna do petka"
    assert plain("prosim (/izbrisi) in /start@korak_bot") == (
        f"prosim ({COMMAND_SLASH}izbrisi) in {COMMAND_SLASH}start@korak_bot")
    # slashes that are no command stay as they are
    for text in ("in/ali", "1/2", "https://example.com/pot", "a / b", "//"):
        assert plain(text) == text
    assert fence("zdravo\n/nazaj") == f"┃ zdravo\n┃ {COMMAND_SLASH}nazaj"
    assert one_line("Ana /prevzemi") == f"Ana {COMMAND_SLASH}prevzemi"
