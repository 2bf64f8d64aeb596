"""MTCNN conversion against PyTorch: facegate's .pt reader and ONNX graphs vs torch.load + torch.

Run in a separate environment that has PyTorch (never a facegate dependency), with facegate
importable, e.g.::

    python -m venv /tmp/torch-env && /tmp/torch-env/bin/pip install torch==2.13.0 \
        onnxruntime onnx opencv-python-headless pydantic pydantic-settings
    PYTHONPATH=src /tmp/torch-env/bin/python bench/mtcnn_reference.py WHEEL

WHEEL is facenet_pytorch-2.6.0-py3-none-any.whl (``pip download --no-deps facenet-pytorch==2.6.0``).
The networks are re-declared here exactly as facenet-pytorch 2.6.0 declares them (its package
imports torchvision, which this check does not need). Writes bench/results/mtcnn_reference.json.
"""

from __future__ import annotations

import io
import json
import sys
import zipfile
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch
from torch import nn

from facegate.models.mtcnn_onnx import build
from facegate.models.torch_format import read_state_dict


def _pnet() -> nn.Module:
    class PNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv1, self.prelu1 = nn.Conv2d(3, 10, 3), nn.PReLU(10)
            self.pool1 = nn.MaxPool2d(2, 2, ceil_mode=True)
            self.conv2, self.prelu2 = nn.Conv2d(10, 16, 3), nn.PReLU(16)
            self.conv3, self.prelu3 = nn.Conv2d(16, 32, 3), nn.PReLU(32)
            self.conv4_1, self.conv4_2 = nn.Conv2d(32, 2, 1), nn.Conv2d(32, 4, 1)

        def forward(self, x):  # type: ignore[no-untyped-def]
            x = self.pool1(self.prelu1(self.conv1(x)))
            x = self.prelu3(self.conv3(self.prelu2(self.conv2(x))))
            return self.conv4_2(x), torch.softmax(self.conv4_1(x), dim=1)

    return PNet()


def _rnet() -> nn.Module:
    class RNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv1, self.prelu1 = nn.Conv2d(3, 28, 3), nn.PReLU(28)
            self.pool1 = nn.MaxPool2d(3, 2, ceil_mode=True)
            self.conv2, self.prelu2 = nn.Conv2d(28, 48, 3), nn.PReLU(48)
            self.pool2 = nn.MaxPool2d(3, 2, ceil_mode=True)
            self.conv3, self.prelu3 = nn.Conv2d(48, 64, 2), nn.PReLU(64)
            self.dense4, self.prelu4 = nn.Linear(576, 128), nn.PReLU(128)
            self.dense5_1, self.dense5_2 = nn.Linear(128, 2), nn.Linear(128, 4)

        def forward(self, x):  # type: ignore[no-untyped-def]
            x = self.pool1(self.prelu1(self.conv1(x)))
            x = self.pool2(self.prelu2(self.conv2(x)))
            x = self.prelu3(self.conv3(x)).permute(0, 3, 2, 1).contiguous()
            x = self.prelu4(self.dense4(x.view(x.shape[0], -1)))
            return self.dense5_2(x), torch.softmax(self.dense5_1(x), dim=1)

    return RNet()


def _onet() -> nn.Module:
    class ONet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv1, self.prelu1 = nn.Conv2d(3, 32, 3), nn.PReLU(32)
            self.pool1 = nn.MaxPool2d(3, 2, ceil_mode=True)
            self.conv2, self.prelu2 = nn.Conv2d(32, 64, 3), nn.PReLU(64)
            self.pool2 = nn.MaxPool2d(3, 2, ceil_mode=True)
            self.conv3, self.prelu3 = nn.Conv2d(64, 64, 3), nn.PReLU(64)
            self.pool3 = nn.MaxPool2d(2, 2, ceil_mode=True)
            self.conv4, self.prelu4 = nn.Conv2d(64, 128, 2), nn.PReLU(128)
            self.dense5, self.prelu5 = nn.Linear(1152, 256), nn.PReLU(256)
            self.dense6_1, self.dense6_2 = nn.Linear(256, 2), nn.Linear(256, 4)
            self.dense6_3 = nn.Linear(256, 10)

        def forward(self, x):  # type: ignore[no-untyped-def]
            x = self.pool1(self.prelu1(self.conv1(x)))
            x = self.pool2(self.prelu2(self.conv2(x)))
            x = self.pool3(self.prelu3(self.conv3(x)))
            x = self.prelu4(self.conv4(x)).permute(0, 3, 2, 1).contiguous()
            x = self.prelu5(self.dense5(x.view(x.shape[0], -1)))
            return self.dense6_2(x), self.dense6_3(x), torch.softmax(self.dense6_1(x), dim=1)

    return ONet()


NETS = {
    "pnet": (_pnet, (4, 3, 97, 131)),
    "rnet": (_rnet, (64, 3, 24, 24)),
    "onet": (_onet, (64, 3, 48, 48)),
}


def main(wheel: Path) -> None:
    rng = np.random.default_rng(0)
    out: dict[str, dict[str, float]] = {}
    with zipfile.ZipFile(wheel) as archive:
        for net, (make, shape) in NETS.items():
            raw = archive.read(f"facenet_pytorch/data/{net}.pt")
            ours = read_state_dict(raw)
            theirs = torch.load(io.BytesIO(raw), weights_only=True)
            reader_diff = max(float(np.abs(ours[k] - theirs[k].numpy()).max()) for k in theirs)
            model = make()
            model.load_state_dict(theirs)
            model.eval()
            x = rng.uniform(0, 255, size=shape).astype(np.float32)
            with torch.no_grad():
                ref = [t.numpy() for t in model((torch.from_numpy(x) - 127.5) * 0.0078125)]
            session = ort.InferenceSession(build(net, ours).SerializeToString())
            got = session.run(None, {"image": x})
            out[net] = {
                "reader_max_abs_diff": reader_diff,
                "output_max_abs_diff": max(
                    float(np.abs(a - b).max()) for a, b in zip(got, ref, strict=True)
                ),
                "tensors": len(theirs),
            }
            print(net, out[net])
    target = Path("bench/results/mtcnn_reference.json")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps({"torch": torch.__version__, "nets": out}, indent=2) + "\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
