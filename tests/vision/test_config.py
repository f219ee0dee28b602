import pytest
import torch

from vision.config import ConfigError, instantiate, load_config, parse_cfg_options


@pytest.fixture
def config_dir(tmp_path):
    (tmp_path / "_base_").mkdir()
    (tmp_path / "_base_" / "runtime.py").write_text("seed = 0\noptim = dict(type='torch.optim.SGD', lr=0.1)\n")
    (tmp_path / "exp.py").write_text(
        "_base_ = ['_base_/runtime.py']\n"
        "model = dict(type='vision.create_model', name='eva02_test_patch14_56', num_classes=3)\n"
        "optim = dict(lr=0.01)\n"
    )
    return tmp_path


def test_base_inheritance_and_overrides(config_dir):
    cfg = load_config(config_dir / "exp.py", ["optim.lr=0.5", "model.num_classes=7", "seed=3"])
    assert cfg.optim.type == "torch.optim.SGD" and cfg.optim.lr == 0.5
    assert cfg.model.num_classes == 7 and cfg.seed == 3


def test_override_typo_is_named(config_dir):
    with pytest.raises(ConfigError, match="no key 'optm' at top; did you mean optim"):
        load_config(config_dir / "exp.py", ["optm.lr=0.5"])
    with pytest.raises(ConfigError, match="key.path=value"):
        parse_cfg_options(["optim.lr"])
    with pytest.raises(FileNotFoundError, match="config file not found"):
        load_config(config_dir / "missing.py")


def test_instantiate_builds_nested_objects(config_dir):
    cfg = load_config(config_dir / "exp.py")
    model = instantiate(cfg.model)
    assert model.head.out_features == 3
    optim = instantiate(cfg.optim, params=model.parameters())
    assert isinstance(optim, torch.optim.SGD) and optim.defaults["lr"] == 0.01
    built = instantiate({"layers": [dict(type="torch.nn.Linear", in_features=2, out_features=3)], "plain": 1})
    assert isinstance(built["layers"][0], torch.nn.Linear) and built["plain"] == 1


def test_unknown_types_and_arguments_are_named():
    with pytest.raises(ConfigError, match="did you mean AdamW"):
        instantiate(dict(type="torch.optim.AdamWW"))
    with pytest.raises(ConfigError, match="cannot build Linear from config keys"):
        instantiate(dict(type="torch.nn.Linear", in_features=2, out_feature=3))
    with pytest.raises(ConfigError, match="no module 'nonexistentpkg'"):
        instantiate(dict(type="nonexistentpkg.Thing"))
