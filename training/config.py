"""Training configuration: paper defaults, overridable by a JSON/YAML file and by CLI flags.

Precedence: command line > config file > defaults below (InterNet on InterHand2.6M, §1.5).
"""
from __future__ import annotations

import argparse
import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from interhand_ros.engine.options import (
    FLOAT_PRECISIONS,
    DeviceError,
    check_device_name,
)


class ConfigError(ValueError):
    """A configuration file or value is invalid."""


@dataclass
class TrainConfig:
    """Everything a training run depends on. Batch size is per process (per GPU)."""

    data_root: str = ''
    output_dir: str = 'out/train'
    cache_dir: str = ''                  # index cache; '' -> <output_dir>/cache
    annot_subset: str = 'H+M'
    hand_set: str = 'all'
    fps: int = 5
    epochs: int = 20
    lr: float = 1e-4
    lr_decay_epochs: list[int] = field(default_factory=lambda: [15, 17])
    lr_decay_factor: float = 0.1
    batch_size: int = 16
    workers: int = 4
    precision: str = 'fp32'
    device: str = 'auto'                 # auto | cpu | cuda | cuda:N (torchrun: per rank)
    seed: int = 0
    augment: bool = True
    imagenet_weights: str = ''           # torchvision resnet50 state dict file (.pth)
    init_checkpoint: str = ''            # fine-tune: start from this InterNet checkpoint
    checkpoint_every_steps: int = 0      # 0: only at the end of each epoch
    max_steps: int = 0                   # 0: no limit (smoke runs and tests stop early)
    log_every_steps: int = 20

    def validate(self) -> TrainConfig:
        if not self.data_root:
            raise ConfigError('data_root is required (--data-root)')
        if self.precision not in FLOAT_PRECISIONS:
            raise ConfigError(
                f'precision must be one of {FLOAT_PRECISIONS}, got {self.precision!r}')
        try:
            check_device_name(self.device)
        except DeviceError as error:
            raise ConfigError(str(error)) from error
        for name in ('epochs', 'batch_size'):
            if getattr(self, name) < 1:
                raise ConfigError(f'{name} must be >= 1, got {getattr(self, name)}')
        if self.lr <= 0:
            raise ConfigError(f'lr must be > 0, got {self.lr}')
        for name in ('workers', 'checkpoint_every_steps', 'max_steps'):
            if getattr(self, name) < 0:
                raise ConfigError(f'{name} must be >= 0, got {getattr(self, name)}')
        return self

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def read_config_file(path: Path) -> dict[str, Any]:
    """Keys of TrainConfig from a .json or .yaml/.yml file."""
    try:
        text = Path(path).read_text()
    except OSError as error:
        raise ConfigError(f'cannot read config {path}: {error}') from error
    if Path(path).suffix in ('.yaml', '.yml'):
        try:
            import yaml
        except ImportError as error:
            raise ConfigError('YAML configs need PyYAML; use a .json config') from error
        values = yaml.safe_load(text) or {}
    else:
        try:
            values = json.loads(text)
        except json.JSONDecodeError as error:
            raise ConfigError(f'{path} is not valid JSON: {error}') from error
    if not isinstance(values, dict):
        raise ConfigError(f'{path} must hold a mapping of settings')
    known = {f.name for f in fields(TrainConfig)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ConfigError(f'{path}: unknown settings {unknown}; known: {sorted(known)}')
    return values


def add_config_arguments(parser: argparse.ArgumentParser) -> None:
    """One --flag per TrainConfig field (default None = not given), plus --config."""
    parser.add_argument('--config', type=Path, help='JSON or YAML file of settings')
    defaults = TrainConfig()
    for item in fields(TrainConfig):
        flag = '--' + item.name.replace('_', '-')
        default = getattr(defaults, item.name)
        if isinstance(default, bool):
            parser.add_argument(flag, type=_parse_bool, metavar='{true,false}')
        elif isinstance(default, list):
            parser.add_argument(flag, type=int, nargs='*')
        else:
            parser.add_argument(flag, type=type(default))


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """Defaults, then the config file, then the flags that were given."""
    values = read_config_file(args.config) if args.config else {}
    for item in fields(TrainConfig):
        given = getattr(args, item.name, None)
        if given is not None:
            values[item.name] = given
    return TrainConfig(**values).validate()


def _parse_bool(text: str) -> bool:
    if text.lower() in ('1', 'true', 'yes', 'on'):
        return True
    if text.lower() in ('0', 'false', 'no', 'off'):
        return False
    raise argparse.ArgumentTypeError(f'expected true or false, got {text!r}')

