import math

import pytest
import torch

from autocolor import color
from autocolor import histograms as H
from autocolor.histograms import DecodeParam


def hist(*weights, k=32):
    """A (1, k, 1, 1) histogram with the given {bin: mass} pairs."""
    p = torch.zeros(1, k, 1, 1)
    for b, w in weights:
        p[0, b] = w
    return p


def val(t):
    return t.flatten()[0].item()


def test_bins_are_floor_of_k_v_clipped():
    v = torch.tensor([0.0, 0.031, 0.5, 0.999, 1.0])
    assert H.uniform_bins(v, 32).tolist() == [0, 0, 16, 31, 31]


def test_gaussian_bins_are_quantiles():
    assert H.gaussian_bins(torch.tensor([0.0]), 32).item() == 16
    assert H.gaussian_bins(torch.tensor([-1e3, 1e3]), 32).tolist() == [0, 31]
    c = H.gaussian_centres(32)
    assert c[16] == pytest.approx(25 * 0.0391, abs=0.01)  # Phi^-1(16.5 / 32) ~ 0.0391
    assert torch.allclose(c, -c.flip(0), atol=1e-5)


@pytest.mark.parametrize("method", ["median", "median-interp", "expectation", "mode", "q75"])
def test_chroma_of_a_delta_is_its_bin_centre(method):
    # (interpolated, the CDF of a delta reaches 0.5 in the middle of its bin too)
    assert val(H.decode_chroma(hist((10, 1.0)), method)) == pytest.approx(10.5 / 32)


def test_chroma_median_expectation_q75_differ_as_defined():
    p = hist((0, 0.4), (10, 0.2), (20, 0.4))
    assert val(H.decode_chroma(p, "median")) == pytest.approx(10.5 / 32)  # CDF 0.6 at bin 10
    assert val(H.decode_chroma(p, "q75")) == pytest.approx(20.5 / 32)
    assert val(H.decode_chroma(p, "expectation")) == pytest.approx((0.4 * 0.5 + 0.2 * 10.5 + 0.4 * 20.5) / 32)
    # interpolated: 0.1 of the needed 0.2 mass inside bin 10 -> halfway through it
    assert val(H.decode_chroma(p, "median-interp")) == pytest.approx(10.5 / 32)
    assert val(H.decode_chroma(hist((3, 0.25), (4, 0.75)), "median-interp")) == pytest.approx(
        (4 + 1 / 3) / 32
    )
    assert val(H.decode_chroma(hist((0, 0.3), (5, 0.7)), "mode")) == pytest.approx(5.5 / 32)


def test_hue_circular_expectation_wraps_around():
    hue, fade = H.decode_hue(hist((0, 0.5), (31, 0.5)), "expectation")
    assert min(val(hue), 1 - val(hue)) < 1e-6  # between bins 31 and 0, not at 0.5
    assert val(fade) == 1.0


def test_chromatic_fading_uses_the_released_convention():
    _, fade = H.decode_hue(hist((7, 1.0)), "expectation-cf", fade=H.TOOL_FADE)
    assert val(fade) == pytest.approx(1.0)  # R = 1 >= 0.96
    _, fade = H.decode_hue(hist((0, 0.5), (16, 0.5)), "expectation-cf", fade=H.TOOL_FADE)
    assert val(fade) == pytest.approx(0.0, abs=1e-6)  # opposite hues cancel
    _, fade = H.decode_hue(torch.full((1, 32, 1, 1), 1 / 32), "expectation-cf", fade=H.TOOL_FADE)
    assert val(fade) == pytest.approx(0.0, abs=1e-6)
    # resultant length R = 0.48 -> factor R / 0.96 = 0.5
    p = hist((0, 0.74), (16, 0.26))
    _, fade = H.decode_hue(p, "expectation-cf", fade=H.TOOL_FADE)
    assert val(fade) == pytest.approx(0.48 / 0.96, abs=1e-5)


def test_hue_mode_and_linear_median():
    p = hist((2, 0.3), (9, 0.45), (20, 0.25))
    assert val(H.decode_hue(p, "mode")[0]) == pytest.approx(9.5 / 32)
    assert val(H.decode_hue(p, "median")[0]) == pytest.approx(9.5 / 32)


@pytest.mark.parametrize("method", ["pixelwise", "once"])
def test_sampling_decoders_draw_from_the_histogram(method):
    p = hist((4, 0.5), (12, 0.5)).expand(1, 32, 8, 8).contiguous()
    g = torch.Generator().manual_seed(1)
    c = H.decode_chroma(p, method, g)
    assert set(torch.unique(c).tolist()) <= {4.5 / 32, 12.5 / 32}
    if method == "once":
        assert torch.unique(c).numel() == 1
    g2 = torch.Generator().manual_seed(1)
    assert torch.equal(c, H.decode_chroma(p, method, g2))


def test_decode_hue_chroma_applies_fading_boost_and_temperature():
    probs = {"hue": hist((0, 0.74), (16, 0.26)), "chroma": hist((15, 1.0))}
    light = torch.full((1, 1, 1), 0.5)
    tool = DecodeParam.parse("median:expectation-cf", boost=1.0, fade=H.TOOL_FADE)
    hue, chroma = H.decode(probs, tool, light)
    assert val(chroma) == pytest.approx(15.5 / 32 * 0.5, abs=1e-5)
    _, boosted = H.decode(probs, DecodeParam.parse(None, boost=2.0, fade=H.TOOL_FADE), light)
    assert val(boosted) == pytest.approx(2 * val(chroma), abs=1e-6)
    _, sharp = H.decode(probs, DecodeParam.parse(None, temperature=0.2, boost=1.0, fade=H.TOOL_FADE), light)
    assert val(sharp) > val(chroma)  # a sharper hue histogram fades less


def test_boost_spares_what_hints_and_references_steered():
    probs = {"hue": hist((3, 1.0)), "chroma": hist((10, 1.0))}
    light = torch.full((1, 1, 1), 0.5)
    param = DecodeParam.parse(None, boost=2.0)
    _, plain = H.decode(probs, DecodeParam.parse(None, boost=1.0), light)
    for steered, factor in ((0.0, 2.0), (0.5, 1.5), (1.0, 1.0)):
        _, chroma = H.decode(probs, param, light, steered=torch.full((1, 1, 1), steered))
        assert val(chroma) == pytest.approx(factor * val(plain), abs=1e-6)


def test_default_decoding_is_the_calibrated_one_and_the_tools_ramp_stays_available():
    default = DecodeParam.parse()
    assert (default.boost, default.fade) == (H.BOOST, H.FADE)
    assert tuple(H.TOOL_FADE) == pytest.approx((0.0, 0.96))
    probs = {"hue": hist((0, 0.6), (16, 0.4)), "chroma": hist((15, 1.0))}  # R = 0.2: unsure
    light = torch.full((1, 1, 1), 0.5)
    _, tool = H.decode(probs, DecodeParam.parse(None, boost=1.0, fade=H.TOOL_FADE), light)
    _, faded = H.decode(probs, DecodeParam.parse(None, boost=1.0, fade=(0.3, 0.96)), light)
    assert val(faded) == 0.0 < val(tool)  # a ramp starting above R grays the unsure pixel out


@pytest.mark.parametrize("head", ["lab", "lab-joint"])
def test_lab_heads_decode_by_expectation(head):
    rgb = torch.tensor([0.8, 0.5, 0.2]).view(3, 1, 1)
    bins = H.bin_indices(rgb, head)
    probs = {
        n: torch.nn.functional.one_hot(b, dict(H.HEADS[head])[n]).permute(2, 0, 1)[None].float()
        for n, b in bins.items()
    }
    hue, chroma = H.decode(probs, DecodeParam(), torch.full((1, 1, 1), 0.5))
    assert 0.0 < val(hue) < 0.15 and val(chroma) > 0.1  # orange comes back orange


def test_l2_head_targets_loss_and_decoding_round_trip():
    rgb = torch.zeros(3, 9, 9)
    rgb[:, :, :] = torch.tensor([0.8, 0.5, 0.2]).view(3, 1, 1)  # orange everywhere
    rgb[:, :, 6:] = 0.5  # gray on the right
    pts = torch.tensor([[4, 2], [4, 8]])
    t = H.point_targets(rgb, "lab-l2", pts, window=1)["ab-value"]
    assert t.shape == (2, 2) and t[0, 0] > 0.1 and t[0, 1] > 0.3 and t[1].abs().max() < 1e-3
    mixed = H.point_targets(rgb, "lab-l2", pts, window=3)["ab-value"]
    assert torch.allclose(mixed[0], t[0], atol=1e-5) and torch.allclose(mixed[1], t[1], atol=1e-5)
    assert H.point_targets(rgb, "lab-l2", torch.tensor([[4, 6]]), window=3)["ab-value"][0, 1] > 0.1
    assert H.loss({"ab-value": t[None]}, {"ab-value": t[None]}, torch.ones(1, 2)) == 0
    assert H.loss({"ab-value": torch.zeros(1, 2, 2)}, {"ab-value": t[None]}, torch.ones(1, 2)) > 0.1
    values = H.activate({"ab-value": t[:1].view(1, 2, 1, 1)})
    hue, chroma = H.decode(values, DecodeParam(temperature=0.5, boost=1.0), torch.full((1, 1, 1), 0.5))
    want_hue, want_chroma = color.hue_chroma(rgb[:, :1, :1])
    assert val(hue) == pytest.approx(float(want_hue), abs=0.02)  # orange comes back orange
    assert val(chroma) == pytest.approx(float(want_chroma), abs=0.05)


def test_window_targets_one_hot_and_neighbourhood():
    bins = torch.zeros(1, 10, 10, dtype=torch.long)
    bins[0, :, 5:] = 3
    pts = torch.tensor([[[4, 2], [4, 5]]])
    one = H.window_targets(bins, 8, pts, 1)
    assert one[0, 0].tolist() == [1, 0, 0, 0, 0, 0, 0, 0]
    assert one[0, 1, 3] == 1
    win = H.window_targets(bins, 8, pts, 7)
    assert torch.allclose(win.sum(-1), torch.ones(1, 2))
    assert win[0, 1, 3].item() == pytest.approx(4 / 7)  # columns 5..8 of 2..8


def test_softened_targets_keep_mass_and_wrap_only_for_hue():
    one = torch.zeros(2, 32)
    one[0, 0] = one[1, 16] = 1
    assert torch.equal(H.soften(one, 0.0, True), one)
    hue, chroma = H.soften(one, 1.0, True), H.soften(one, 1.0, False)
    assert torch.allclose(hue.sum(-1), torch.ones(2)) and torch.allclose(chroma.sum(-1), torch.ones(2))
    assert hue[0, 31] == pytest.approx(hue[0, 1].item()) and hue[0, 1] > 0.2  # wraps around 0
    assert chroma[0, 31] == 0 and chroma[0, 1] > hue[0, 1]  # nothing wraps; the edge keeps more
    assert hue[1].argmax() == 16 and torch.allclose(hue[1], chroma[1])  # away from the ends: alike
    rgb = torch.rand(3, 16, 16)
    pts = torch.tensor([[8, 8]])
    soft = H.point_targets(rgb, "hue-chroma", pts, 1, sigma=1.0)
    assert (soft["hue"] > 0).sum() > 1 and soft["hue"].sum().item() == pytest.approx(1.0)
    with pytest.raises(ValueError, match="one-dimensional"):
        H.point_targets(rgb, "lab-joint", pts, 1, sigma=1.0)


def test_kl_loss_values():
    t = torch.tensor([[0.25, 0.75]])
    assert H.kl_div(t, torch.log(t)).item() == pytest.approx(0.0, abs=1e-6)
    assert H.kl_div(t, torch.zeros(1, 2)).item() == pytest.approx(
        0.25 * math.log(0.5) + 0.75 * math.log(1.5), abs=1e-6
    )
    logits = {"hue": torch.zeros(2, 4), "chroma": torch.zeros(2, 4)}
    targets = {"hue": torch.eye(4)[:2], "chroma": torch.eye(4)[:2]}
    chroma, light = torch.tensor([0.2, 0.0]), torch.tensor([0.5, 0.1])
    loss = H.loss(logits, targets, chroma, light)
    kl = math.log(4)
    expected = ((kl * 1.0 + 5 * 0.2 * kl) + (kl * 0.3 + 0)) / 2
    assert loss.item() == pytest.approx(expected, rel=1e-5)
    weighted = H.loss(logits, targets, chroma, light, weight=torch.tensor([2.0, 0.0]))
    assert weighted.item() == pytest.approx((kl * 1.0 + 5 * 0.2 * kl) * 2 / 2, rel=1e-5)


def test_rebalancing_weighs_rare_colours_up_and_averages_one():
    prior = torch.tensor([0.7, 0.2, 0.1, 0.0])
    off = H.rebalancing_weights(prior, 0.0)
    assert torch.allclose(off, torch.ones(4))
    w = H.rebalancing_weights(prior, 0.5)
    assert (prior * w).sum().item() == pytest.approx(1.0) and (w.diff() > 0).all()
    assert w[3].isfinite()  # a class the prior never saw
    with pytest.raises(ValueError, match="strength"):
        H.rebalancing_weights(prior, 1.0)


def test_lightness_weight_is_a_trapezoid():
    w = H.lightness_weight(torch.tensor([0.0, 0.1, 1 / 3, 0.5, 0.9, 1.0]))
    assert w.tolist() == pytest.approx([0.0, 0.3, 1.0, 1.0, 0.3, 0.0], abs=1e-6)


def test_param_parsing():
    assert str(DecodeParam.parse("q75:mode")) == "q75:mode"
    assert str(DecodeParam.parse("expectation:")) == "expectation:expectation-cf"
    for bad in ("mean:expectation", "median:circle"):
        with pytest.raises(ValueError):
            DecodeParam.parse(bad)
    with pytest.raises(ValueError):
        DecodeParam.parse(None, temperature=0)
