"""Sampling settings and environment variables: each defined once, and everything that shows them agrees."""
import argparse
import re
from pathlib import Path

import pytest

from intermask import environment
from intermask.errors import InterMaskError
from intermask.settings import SamplingSettings

ROOT = Path(__file__).resolve().parent.parent


def test_defaults_and_the_reaction_rule():
    s = SamplingSettings()
    assert s.as_dict() == {"cond_scale": 2.0, "time_steps": 20, "topk_ratio": 0.9, "temperature": 1.0,
                           "second_pass": 0}
    assert s.for_reaction().time_steps == 10  # half the generation steps...
    assert SamplingSettings(time_steps=7).for_reaction().time_steps == 3
    assert SamplingSettings(time_steps=1).for_reaction().time_steps == 1  # ...never zero
    assert s.for_reaction(time_steps=4).time_steps == 4  # an explicit count wins
    assert s.for_reaction().cond_scale == s.cond_scale
    assert SamplingSettings(second_pass=10).for_reaction().second_pass == 0  # the partner is given: one pass


def test_second_pass_rounds_scale_like_the_first_and_are_none_when_off():
    assert SamplingSettings().second_pass_steps(230) == 0
    assert SamplingSettings(second_pass=10).second_pass_steps(230) == 10
    assert SamplingSettings(second_pass=10).second_pass_steps(0) == 0  # nothing to decode again
    assert SamplingSettings(second_pass=10).second_pass_steps(960) == 20  # twice the tokens of 6.4 s, twice the rounds


@pytest.mark.parametrize("name, bad", [("cond_scale", -0.1), ("cond_scale", 20.5), ("time_steps", 0),
                                       ("time_steps", 2.5), ("topk_ratio", 1.0), ("temperature", float("inf"))])
def test_every_limit_is_enforced_with_its_range_in_the_message(name, bad):
    knob = SamplingSettings.knob(name)
    with pytest.raises(InterMaskError, match=re.escape(knob.label)):
        SamplingSettings(**{name: bad})
    with pytest.raises(InterMaskError):
        SamplingSettings().for_reaction(time_steps=0)


def test_slider_ends_are_accepted_and_one_step_past_them_is_not():
    for name, knob in SamplingSettings.knobs().items():
        SamplingSettings(**{name: knob.low})
        SamplingSettings(**{name: knob.slider_max})
        with pytest.raises(InterMaskError):
            SamplingSettings(**{name: knob.slider_max + knob.step})


def test_command_line_flags_come_from_the_settings():
    parser = argparse.ArgumentParser()
    SamplingSettings.add_arguments(parser)
    assert SamplingSettings.from_arguments(parser.parse_args([])) == SamplingSettings()
    given = SamplingSettings.from_arguments(parser.parse_args(["--time-steps", "8", "--topk-ratio", "0.5"]))
    assert (given.time_steps, given.topk_ratio) == (8, 0.5)
    reaction = argparse.ArgumentParser()
    SamplingSettings.add_arguments(reaction, reaction=True)
    assert reaction.parse_args([]).time_steps is None  # the API's react then applies the reaction rule
    assert not hasattr(reaction.parse_args([]), "second_pass")  # a reaction decodes one person: no such flag
    assert SamplingSettings.from_arguments(parser.parse_args(["--second-pass", "6"])).second_pass == 6


def test_sweep_flags_take_several_values_and_give_every_checked_combination():
    parser = argparse.ArgumentParser()
    SamplingSettings.add_arguments(parser, sweep=True)
    assert SamplingSettings.sweep(parser.parse_args([])) == [SamplingSettings()]
    combos = SamplingSettings.sweep(parser.parse_args(["--cond-scale", "2", "4", "--time-steps", "10", "20"]))
    assert [(c.cond_scale, c.time_steps) for c in combos] == [(2.0, 10), (2.0, 20), (4.0, 10), (4.0, 20)]
    with pytest.raises(InterMaskError, match=r"Top-k ratio must be in \[0, 1\)"):
        SamplingSettings.sweep(parser.parse_args(["--topk-ratio", "0.5", "1.5"]))


def test_app_sliders_span_exactly_what_the_api_accepts():
    app = pytest.importorskip("app")
    for name, knob in SamplingSettings.knobs().items():
        slider = app.setting_slider(name, name)
        assert (slider.minimum, slider.maximum, slider.value) == (knob.low, knob.slider_max, knob.default)


def test_refine_has_one_default_for_the_api_the_command_line_and_the_app():
    import inspect

    from intermask.api import InterMask
    from intermask.commands.generate import add_sampling_arguments
    from intermask.settings import REFINE

    assert REFINE.default is True
    for method in (InterMask.generate, InterMask.react, InterMask.compose, InterMask.edit):
        assert inspect.signature(method).parameters["refine"].default is REFINE.default
    parser = argparse.ArgumentParser()
    add_sampling_arguments(parser)
    assert parser.parse_args(["--out", "x"]).refine is REFINE.default
    assert parser.parse_args(["--out", "x", "--no-refine"]).refine is False
    app = pytest.importorskip("app")
    assert app.refine_checkbox().value is REFINE.default
    for callback in (app.generate, app.react, app.edit):
        assert inspect.signature(inspect.unwrap(callback)).parameters["refine"].default is REFINE.default


def test_readme_tables_are_the_generated_ones():
    readme = (ROOT / "README.md").read_text()
    assert SamplingSettings.markdown_table() in readme
    assert environment.markdown_table() in readme


def test_every_intermask_variable_the_code_reads_is_documented():
    sources = [ROOT / "app.py", *sorted((ROOT / "intermask").rglob("*.py"))]
    used = {name for path in sources for name in re.findall(r"INTERMASK_[A-Z_]+", path.read_text())}
    assert used <= set(environment.VARIABLES), used - set(environment.VARIABLES)
    with pytest.raises(KeyError):
        environment.get("INTERMASK_NOT_A_VARIABLE")


def test_a_reaction_takes_every_setting_but_the_second_pass():
    assert SamplingSettings.reaction_knobs() == ["cond_scale", "time_steps", "topk_ratio", "temperature"]
