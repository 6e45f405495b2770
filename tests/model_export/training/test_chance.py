import pytest

from model_export.training.chance import chance_accuracy, chance_warning


def test_chance_is_the_better_of_uniform_and_majority() -> None:
    assert chance_accuracy(list(range(1, 11)), foreground_classes=10) == pytest.approx(0.1)
    assert chance_accuracy([1, 1, 1, 2], foreground_classes=10) == pytest.approx(0.75)
    assert chance_accuracy([1, 2], foreground_classes=3) == pytest.approx(0.5)
    assert chance_accuracy([], foreground_classes=4) == pytest.approx(0.25)


@pytest.mark.parametrize(("accuracy", "warns"), [(0.0, True), (0.25, True), (0.2501, False)])
def test_warning_at_or_below_chance(accuracy: float, warns: bool) -> None:
    warning = chance_warning(accuracy, 0.25)
    assert (warning is not None) == warns
    if warning:
        assert warning.startswith(f"WARNING: held-out box accuracy {accuracy:.4f} is at or below")
        assert "\n" not in warning
