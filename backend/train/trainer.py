"""VIBE's adversarial training (official lib/core/trainer.py and train.py), checkpoints in the official layout.

Every iteration: the generator (backend.models.temporal, the backend's own modules) runs on a batch of feature
windows, takes one Adam step on its loss (keypoints, SMPL, adversarial), then the motion discriminator takes one on
telling AMASS motion from the generated motion. After each epoch the model is evaluated (PA-MPJPE on the evaluation
database, the official `performance`; without one, the epoch's mean generator loss), both learning rates drop
tenfold after `lr_patience` epochs without improvement, and `checkpoint.pth.tar` (+ `model_best.pth.tar`) is written.

Checkpoint keys: the official `epoch` (index of the last finished epoch), `gen_state_dict`, `performance`,
`gen_optimizer`, `disc_motion_state_dict`, `disc_motion_optimizer`; and for resuming, `best_performance`,
`global_step`, `gen_lr_scheduler`, `disc_motion_lr_scheduler`. The official files' `regressor.smpl.*` entries (the
SMPL layer, which the backend builds from SMPL_NEUTRAL.pkl) are carried through unchanged when fine-tuning one.
"""

import json
import logging
import math
import random
import shutil
import sys
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..checkpoints import load_exact, load_mean_params, load_weights_only, read_checkpoint, resolve_device
from ..data_folder import FILES_BY_NAME, VIBE_MODEL_FILE, data_file
from ..errors import BackendError
from ..evaluate import EVAL_KEYS, evaluate_database, load_h36m_regressor
from ..models.discriminator import MotionDiscriminator
from ..models.temporal import VibeGenerator
from ..smpl_layer import load_smpl_layer
from . import atomic_write
from .config import Config, ModelConfig, TrainConfig, config_to_dict
from .data import TrainingStream, database_path, load_database
from .losses import LossWeights, vibe_losses

LOG = logging.getLogger("backend.train")
CHECKPOINT_FILE = "checkpoint.pth.tar"
BEST_FILE = "model_best.pth.tar"
SMPL_KEYS = "regressor.smpl."  # official generator entries the backend does not hold as weights
INIT_KEYS = ("regressor.init_pose", "regressor.init_shape", "regressor.init_cam")
SPIN_FILE = FILES_BY_NAME["spin_model_checkpoint.pth.tar"]


class VibeTrainer:
    """Generator + motion discriminator, their Adam optimizers and plateau schedulers, and the training counters."""

    def __init__(self, generator: VibeGenerator, discriminator: MotionDiscriminator, train: TrainConfig,
                 weights: LossWeights, device: torch.device) -> None:
        self.generator, self.discriminator = generator.to(device), discriminator.to(device)
        self.weights, self.device = weights, device
        self.disc_update_steps = train.disc_update_steps
        self.gen_optimizer = torch.optim.Adam(generator.parameters(), lr=train.gen_lr,
                                              weight_decay=train.gen_weight_decay)
        self.disc_optimizer = torch.optim.Adam(discriminator.parameters(), lr=train.disc_lr,
                                               weight_decay=train.disc_weight_decay)
        self.gen_scheduler, self.disc_scheduler = (
            torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode="min", factor=0.1, patience=train.lr_patience)
            for optimizer in (self.gen_optimizer, self.disc_optimizer)
        )
        self.epoch = 0  # finished epochs
        self.step = 0
        self.best_performance = math.inf
        self.carried: dict[str, torch.Tensor] = {}  # `regressor.smpl.*` of a fine-tuned official checkpoint

    def train_step(self, batch: dict[str, torch.Tensor], real_theta: torch.Tensor) -> dict[str, float]:
        """One generator step and (every `disc_update_steps`) one discriminator step; the weighted loss terms."""
        self.generator.train()
        self.discriminator.train()
        batch = {k: v.to(self.device) for k, v in batch.items()}
        output = self.generator(batch["features"])
        gen_loss, disc_loss, terms = vibe_losses(output, batch, real_theta.to(self.device), self.discriminator,
                                                 self.weights)
        if not torch.isfinite(gen_loss + disc_loss):
            raise BackendError(f"The training loss became {float(gen_loss + disc_loss)} at step {self.step}.",
                               "Lower train.gen_lr / train.disc_lr, or check the databases for broken labels; "
                               "resume from the last checkpoint with --resume.")
        self.gen_optimizer.zero_grad()
        gen_loss.backward()
        self.gen_optimizer.step()
        if self.step % self.disc_update_steps == 0:
            self.disc_optimizer.zero_grad()
            disc_loss.backward()
            self.disc_optimizer.step()
        self.step += 1
        return {"generator": gen_loss.item(), "discriminator": disc_loss.item()} | {
            k: v.item() for k, v in terms.items()}

    def train_epoch(self, stream: TrainingStream, iterations: int, report: Callable[[dict], None],
                    log_every: int) -> dict[str, float]:
        """`iterations` steps on batches from `stream`; the mean of every loss term over the epoch."""
        totals: dict[str, float] = {}
        for index in range(1, iterations + 1):
            terms = self.train_step(*next(stream))
            totals = {k: totals.get(k, 0.0) + v for k, v in terms.items()}
            if index % log_every == 0 or index == iterations:
                report({"epoch": self.epoch + 1, "iteration": index, "step": self.step} | terms)
        return {k: v / iterations for k, v in totals.items()}

    def finish_epoch(self, performance: float) -> bool:
        """Step the schedulers on `performance` (lower is better); True when it is the best so far."""
        self.gen_scheduler.step(performance)
        self.disc_scheduler.step(performance)
        self.epoch += 1
        is_best = performance < self.best_performance
        self.best_performance = min(self.best_performance, performance)
        return is_best

    def checkpoint(self, performance: float) -> dict[str, Any]:
        """The checkpoint dict (module docstring): what `resume` reads back."""
        return {
            "epoch": self.epoch - 1,
            "gen_state_dict": self.generator.state_dict() | self.carried,
            "performance": float(performance),
            "gen_optimizer": self.gen_optimizer.state_dict(),
            "disc_motion_state_dict": self.discriminator.state_dict(),
            "disc_motion_optimizer": self.disc_optimizer.state_dict(),
            "best_performance": float(self.best_performance),
            "global_step": self.step,
            "gen_lr_scheduler": self.gen_scheduler.state_dict(),
            "disc_motion_lr_scheduler": self.disc_scheduler.state_dict(),
        }

    def save(self, folder: Path, performance: float, is_best: bool) -> Path:
        """Write folder/checkpoint.pth.tar (and model_best.pth.tar, best.txt when `is_best`), each atomically."""
        path = folder / CHECKPOINT_FILE
        atomic_write(path, lambda tmp: torch.save(self.checkpoint(performance), tmp))
        if is_best:
            atomic_write(folder / BEST_FILE, lambda tmp: shutil.copyfile(path, tmp))
            atomic_write(folder / "best.txt", lambda tmp: tmp.write_text(f"{performance}\n"))
        return path

    def resume(self, checkpoint: dict[str, Any], path: Path) -> None:
        """Continue from a checkpoint written by `save`: weights, optimizers, schedulers and counters."""
        missing = [k for k in ("disc_motion_state_dict", "gen_optimizer", "disc_motion_optimizer", "epoch")
                   if k not in checkpoint]
        if missing:
            raise BackendError(f"{path} cannot be resumed: it lacks {', '.join(missing)}.",
                               "To start from a model without training state, set model.pretrained instead.")
        self.carried = load_generator_state(self.generator, checkpoint["gen_state_dict"], path)
        load_exact(self.discriminator, checkpoint["disc_motion_state_dict"], path, VIBE_MODEL_FILE)
        try:
            self.gen_optimizer.load_state_dict(checkpoint["gen_optimizer"])
            self.disc_optimizer.load_state_dict(checkpoint["disc_motion_optimizer"])
        except (ValueError, KeyError) as exc:
            raise BackendError(f"The optimizer state in {path} does not fit these models ({exc}).",
                               "Resume only checkpoints written by backend.train with the same model sizes; to "
                               "fine-tune an official model, set model.pretrained instead.") from exc
        for scheduler, key in ((self.gen_scheduler, "gen_lr_scheduler"),
                               (self.disc_scheduler, "disc_motion_lr_scheduler")):
            if key in checkpoint:
                scheduler.load_state_dict(checkpoint[key])
        self.epoch = int(checkpoint["epoch"]) + 1
        self.step = int(checkpoint.get("global_step", 0))
        self.best_performance = float(checkpoint.get("best_performance", checkpoint.get("performance", math.inf)))


def read_training_checkpoint(path: Path, device: torch.device) -> dict[str, Any]:
    """A VIBE checkpoint (official or ours) loaded with weights_only, checked to hold a `gen_state_dict`."""
    if not path.is_file():
        raise BackendError(f"The checkpoint {path} does not exist.",
                           "Check the path; to resume, the output folder must hold checkpoint.pth.tar.")
    checkpoint = load_weights_only(path, device, f"{VIBE_MODEL_FILE.name}: {VIBE_MODEL_FILE.purpose}",
                                   VIBE_MODEL_FILE.source)
    state = checkpoint.get("gen_state_dict") if isinstance(checkpoint, dict) else None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise BackendError(f"{path} is not a VIBE checkpoint: it has no gen_state_dict of weights.",
                           VIBE_MODEL_FILE.source)
    return checkpoint


def load_generator_state(generator: VibeGenerator, state: dict[str, torch.Tensor], path: Path) -> dict:
    """Load a `gen_state_dict` key for key (an older one without `init_*` keeps the current mean parameters);
    returns its `regressor.smpl.*` entries, which are written back unchanged on saving."""
    carried = {k: v for k, v in state.items() if k.startswith(SMPL_KEYS)}
    own = generator.state_dict()
    load_exact(generator, {k: own[k] for k in INIT_KEYS} | state, path, VIBE_MODEL_FILE, ignore=(SMPL_KEYS,))
    return carried


def initialise(generator: VibeGenerator, discriminator: MotionDiscriminator, model: ModelConfig,
               device: torch.device) -> dict[str, torch.Tensor]:
    """Starting weights, as the official train.py: the mean SMPL parameters and small decoder weights, then SPIN's
    regressor (`pretrained_regressor`), then a whole VIBE checkpoint (`pretrained`: its generator, and its
    discriminator when it has one). Returns the entries to carry through (see `load_generator_state`)."""
    data_dir = Path(model.data_dir)
    regressor = generator.regressor
    mean_params = load_mean_params(data_dir / "smpl_mean_params.npz", FILES_BY_NAME["smpl_mean_params.npz"])
    with torch.no_grad():
        for name, value in mean_params.items():
            getattr(regressor, name).copy_(value)
    for layer in (regressor.decpose, regressor.decshape, regressor.deccam):
        nn.init.xavier_uniform_(layer.weight, gain=0.01)
    if model.pretrained_regressor:
        path = data_file(data_dir, model.pretrained_regressor)
        spin = read_checkpoint(path, "model", SPIN_FILE, device)
        own = regressor.state_dict()
        head = {k: v for k, v in own.items() if k.startswith("init_")} | {k: spin[k] for k in own if k in spin}
        load_exact(regressor, head, path, SPIN_FILE)
        LOG.info("regressor initialised from %s", path)
    if not model.pretrained:
        return {}
    path = data_file(data_dir, model.pretrained)
    checkpoint = read_training_checkpoint(path, device)
    carried = load_generator_state(generator, checkpoint["gen_state_dict"], path)
    if "disc_motion_state_dict" in checkpoint:
        load_exact(discriminator, checkpoint["disc_motion_state_dict"], path, VIBE_MODEL_FILE)
    LOG.info("fine-tuning %s (its performance: %s)", path, checkpoint.get("performance"))
    return carried


def run_training(config: Config, resume: bool = False) -> Path:
    """Train as configured, writing checkpoints and logs into config.output_dir; returns the best checkpoint."""
    out = Path(config.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    report = _start_logs(out)
    if config.seed >= 0:
        random.seed(config.seed)
        np.random.seed(config.seed)
        torch.manual_seed(config.seed)
    device = resolve_device(config.device)
    stream = TrainingStream(config.data, config.train.batch_size)
    data_dir = Path(config.model.data_dir)
    generator = VibeGenerator(load_smpl_layer(data_dir), config.model.gru_hidden_size, config.model.gru_layers)
    discriminator = MotionDiscriminator(config.model.disc_hidden_size, config.model.disc_layers,
                                        config.model.disc_attention_layers, config.model.disc_attention_dropout)
    trainer = VibeTrainer(generator, discriminator, config.train, LossWeights(**asdict(config.loss)), device)
    if resume:
        path = out / CHECKPOINT_FILE
        trainer.resume(read_training_checkpoint(path, device), path)
        LOG.info("resumed %s after epoch %d (step %d)", path, trainer.epoch, trainer.step)
    else:
        trainer.carried = initialise(generator, discriminator, config.model, device)
    evaluate = _evaluator(config, generator, device)
    atomic_write(out / "config.json", lambda tmp: tmp.write_text(json.dumps(config_to_dict(config), indent=2)))
    LOG.info("training on %s, epochs %d..%d", device, trainer.epoch + 1, config.train.epochs)
    while trainer.epoch < config.train.epochs:
        losses = trainer.train_epoch(stream, config.train.iters_per_epoch, report, config.train.log_every)
        metrics = evaluate() if evaluate else {}
        performance = metrics.get("pa_mpjpe", losses["generator"])
        is_best = trainer.finish_epoch(performance)
        trainer.save(out, performance, is_best)
        report({"epoch": trainer.epoch, "performance": performance, "best": is_best,
                "gen_lr": trainer.gen_optimizer.param_groups[0]["lr"]} | metrics)
    return out / BEST_FILE


def _evaluator(config: Config, generator: VibeGenerator, device: torch.device) -> Callable[[], dict] | None:
    """Evaluation on the `val` split of data.eval_dataset, or None when none is configured."""
    if config.data.eval_dataset is None:
        return None
    db = load_database(database_path(config.data.db_dir, config.data.eval_dataset, "val"), EVAL_KEYS)
    regressor = load_h36m_regressor(Path(config.model.data_dir), generator.regressor.smpl.v_template.shape[0], device)
    return lambda: evaluate_database(generator, db, regressor, config.data.seqlen, config.train.batch_size)


def _start_logs(out: Path) -> Callable[[dict], None]:
    """Log to out/train_log.txt and stderr; `report(fields)` also appends fields as one JSON line to log.jsonl."""
    for handler in LOG.handlers:  # a previous run's log file in this process
        handler.close()
    LOG.handlers.clear()
    LOG.setLevel(logging.INFO)
    LOG.propagate = False
    for handler in (logging.FileHandler(out / "train_log.txt"), logging.StreamHandler(sys.stderr)):
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
        LOG.addHandler(handler)

    def report(fields: dict) -> None:
        LOG.info(" | ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in fields.items()))
        with open(out / "log.jsonl", "a", encoding="utf-8") as fh:
            fh.write(json.dumps(fields) + "\n")

    return report
