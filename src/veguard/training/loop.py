"""The fine-tuning loop: read top to bottom in one sitting (nanoGPT style, no HF Trainer).

corpus -> per-epoch source-capped sample -> tokenise -> length-bucketed batches -> AdamW with
linear warmup/decay, bf16 autocast on CPU, masked BCE with positive weights, gradient clipping
-> model directory -> temperature scaling + operating points on validation
(docs/DESIGN.md: config.json, model.safetensors, tokenizer, veguard.json, thresholds.json,
validation_metrics.json) and train_log.jsonl.

Leaves out: multi-process / GPU training, checkpoint resume and early stopping; a run is
short enough on 2 CPU cores to restart.
"""

from __future__ import annotations

import json
import math
import random
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from veguard import modeldir
from veguard.backends import WindowTokenizer, pad_batch
from veguard.taxonomy import CATEGORIES
from veguard.training.args import TrainArgs, base_model_path, model_meta
from veguard.training.data import (
    bucketed_batches,
    corpus_summary,
    label_matrix,
    positive_weights,
    sample_epoch,
    source_targets,
    train_and_validation,
)
from veguard.training.recalibrate import calibrate_model_dir


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def masked_bce(
    logits: torch.Tensor, labels: torch.Tensor, pos_weight: torch.Tensor | None = None
) -> torch.Tensor:
    """Mean BCE-with-logits over known labels only; labels of -1 (unknown) contribute nothing.

    Unknown is not negative: a hate-speech source saying nothing about extremism must not teach
    the model that its texts are non-extremist.
    """
    known = (labels >= 0).to(logits.dtype)
    per = F.binary_cross_entropy_with_logits(
        logits, labels.clamp(min=0).to(logits.dtype), pos_weight=pos_weight, reduction="none"
    )
    return (per * known).sum() / known.sum().clamp(min=1.0)


def build_model(args: TrainArgs, vocab_size: int):
    # Auto classes: the base's config.json says which architecture (BERT, MPNet, ...).
    from transformers import AutoModelForSequenceClassification, BertConfig

    id2label = dict(enumerate(CATEGORIES))
    label2id = {c: i for i, c in id2label.items()}
    common = {"num_labels": len(CATEGORIES), "problem_type": "multi_label_classification",
                  "id2label": id2label, "label2id": label2id}
    if args.base_model != "tiny-random":
        # The installed MiniLM, a model directory on disk, or an earlier veguard model to
        # continue from (fp16-saved weights come back fp32).
        return AutoModelForSequenceClassification.from_pretrained(
            base_model_path(args.base_model), local_files_only=True, dtype=torch.float32, **common
        )
    cfg = BertConfig(vocab_size=vocab_size, hidden_size=args.tiny_hidden_size,
                     num_hidden_layers=args.tiny_layers, num_attention_heads=args.tiny_heads,
                     intermediate_size=args.tiny_hidden_size * 4,
                     max_position_embeddings=max(512, args.max_length), **common)
    return AutoModelForSequenceClassification.from_config(cfg)


def window_rows(tokenizer: WindowTokenizer, texts: list[str]) -> list[list[list[int]]]:
    """Token windows per text, cut exactly as the Classifier cuts them at inference."""
    ids, owner, _ = tokenizer.encode(texts)
    rows: list[list[list[int]]] = [[] for _ in texts]
    for w, j in zip(ids, owner):
        rows[j].append(w)
    return rows


def row_logits(model, windows: list[list[list[int]]], pad_id: int, bf16: bool) -> torch.Tensor:
    """Per-row logits: the max over each row's windows, as the Classifier scores a text.

    A long document is trained as a bag of its windows (multiple-instance learning): its label
    applies to its most violating window, so a violation planted in chatter teaches that
    passage, not the chatter, and a benign document teaches every window benign.
    """
    flat = [w for ws in windows for w in ws]
    owner = torch.tensor([i for i, ws in enumerate(windows) for _ in ws])
    input_ids, mask = pad_batch(flat, pad_id)
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        logits = model(input_ids=torch.from_numpy(input_ids),
                       attention_mask=torch.from_numpy(mask)).logits.float()
    if len(flat) == len(windows):
        return logits
    out = torch.full((len(windows), logits.shape[1]), float("-inf"))
    return out.scatter_reduce(0, owner[:, None].expand_as(logits), logits, reduce="amax")


def _param_groups(model, weight_decay: float) -> list[dict]:
    decay, no_decay = [], []
    for _, p in model.named_parameters():
        if not p.requires_grad:
            continue
        # Biases and LayerNorm weights are not decayed (standard BERT fine-tuning practice).
        (no_decay if p.ndim < 2 else decay).append(p)
    return [
        {"params": decay, "weight_decay": weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def train(args: TrainArgs, corpus=None) -> Path:
    """Run one training job; returns the model directory. `corpus` (a DataFrame) skips reading."""
    from transformers import AutoTokenizer

    t_start = time.time()
    seed_everything(args.seed)
    torch.set_num_threads(args.num_threads)
    rng = np.random.default_rng(args.seed)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    df, train_df, val_df = train_and_validation(args, corpus)
    train_labels = label_matrix(train_df)
    counts = train_df["source"].value_counts().to_dict()
    targets = source_targets(
        counts, args.source_cap, args.source_caps, args.source_weights, args.epoch_size
    )
    rows_per_epoch = sum(targets.values())
    steps_per_epoch = math.ceil(rows_per_epoch / args.batch_size)
    total_steps = steps_per_epoch * args.epochs
    if args.max_steps is not None:
        total_steps = min(total_steps, args.max_steps)
    _log(f"train: {len(train_df)} rows in {len(counts)} sources -> {rows_per_epoch} sampled/epoch, "
         f"{total_steps} steps; validation: {len(val_df)} rows")

    tokenizer = AutoTokenizer.from_pretrained(base_model_path(args.base_model))
    windows = WindowTokenizer(Path(base_model_path(args.base_model)), args.max_length,
                              args.window_stride)
    model = build_model(args, tokenizer.vocab_size)
    model.train()
    optim = torch.optim.AdamW(_param_groups(model, args.weight_decay), lr=args.lr)
    warmup = max(1, int(args.warmup_ratio * total_steps))

    def lr_factor(step: int) -> float:  # linear warmup, then linear decay to 0
        if step < warmup:
            return (step + 1) / warmup
        return max(0.0, (total_steps - step) / max(1, total_steps - warmup))

    sched = torch.optim.lr_scheduler.LambdaLR(optim, lr_factor)
    texts = train_df["text"].tolist()
    pos_weight = None
    log_path = out / "train_log.jsonl"
    log_file = log_path.open("w", encoding="utf-8")
    step, seen_rows, seen_tokens, window_loss, window_n = 0, 0, 0, 0.0, 0
    t_loop, teacher_seconds = time.time(), 0.0
    for epoch in range(args.epochs):
        if step >= total_steps:
            break
        idx = sample_epoch(train_df, targets, rng)
        if pos_weight is None:
            # Weights from what the model actually sees (the sampled epoch), capped so a rare
            # label cannot dominate the loss.
            pw = positive_weights(train_labels[idx], args.pos_weight_cap)
            pos_weight = torch.tensor(pw)
            _log("positive weights: " + ", ".join(f"{c}={w:.2f}" for c, w in zip(CATEGORIES, pw)))
        soft = None
        if args.teacher:
            from veguard.training.distil import soft_bce, teacher_logits

            t_teacher = time.time()
            soft = teacher_logits(args.teacher, [texts[i] for i in idx], args.teacher_cache,
                                  args.eval_batch_size, _log)
            spent = time.time() - t_teacher
            teacher_seconds += spent
            t_loop += spent  # rates and train_seconds count training alone
        rows = window_rows(windows, [texts[i] for i in idx])
        lengths = np.array([sum(len(w) for w in ws) for ws in rows])
        for batch_pos in bucketed_batches(lengths, args.batch_size, args.bucket_chunk, rng):
            if step >= total_steps:
                break
            batch_rows = [rows[p] for p in batch_pos]
            labels = torch.from_numpy(train_labels[idx[batch_pos]])
            logits = row_logits(model, batch_rows, windows.pad_token_id, args.bf16)
            loss = masked_bce(logits, labels, pos_weight)  # loss in fp32 for stability
            if soft is not None:
                w = args.distil_weight
                t_logits = torch.from_numpy(soft[batch_pos])
                loss = w * soft_bce(logits, t_logits, args.distil_temperature) + (1 - w) * loss
            optim.zero_grad(set_to_none=True)
            loss.backward()
            if args.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), args.grad_clip)
            optim.step()
            sched.step()
            step += 1
            seen_rows += len(batch_pos)
            seen_tokens += int(sum(len(w) for ws in batch_rows for w in ws))
            window_loss += loss.item()
            window_n += 1
            if step % args.log_every == 0 or step == total_steps:
                elapsed = time.time() - t_loop
                rec = {"step": step, "epoch": epoch, "loss": window_loss / window_n,
                       "lr": sched.get_last_lr()[0], "rows_per_s": seen_rows / elapsed,
                       "tokens_per_s": seen_tokens / elapsed, "elapsed_s": elapsed,
                       "eta_s": elapsed / step * (total_steps - step)}
                log_file.write(json.dumps(rec) + "\n")
                log_file.flush()
                _log(f"step {step}/{total_steps} loss {rec['loss']:.4f} lr {rec['lr']:.2e} "
                     f"{rec['rows_per_s']:.1f} rows/s {rec['tokens_per_s']:.0f} tok/s "
                     f"eta {rec['eta_s'] / 60:.1f} min")
                window_loss, window_n = 0.0, 0
    log_file.close()
    train_seconds = time.time() - t_loop

    if args.save_dtype == "float16":
        model = model.half()  # shipping size; the Classifier casts back to float32 on load
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    trained = {
        "config": args.to_dict(),
        "corpus": corpus_summary(train_df, val_df),
        "sampling": {"rows_per_epoch": rows_per_epoch, "per_source": targets,
                     "positive_weights": dict(zip(CATEGORIES, map(float, pos_weight)))},
        "steps": step,
        "train_seconds": round(train_seconds, 1),
        "teacher_seconds": round(teacher_seconds, 1),  # soft labels (cache misses only)
        "wall_seconds": round(time.time() - t_start, 1),  # up to saving; calibration follows
    }
    modeldir.write(out, model_meta(args, "transformer", trained))
    # Calibrate on the saved directory through the inference code path, so the thresholds
    # hold for exactly what the Classifier computes (fp16 rounding and windows included).
    calibrate_model_dir(
        out, df, args.review_recall, args.auto_precision, args.max_val_rows, args.seed,
        review_min_precision=args.review_min_precision, val_source_cap=args.val_source_cap,
    )
    _log(f"wrote {out} ({step} steps, {round(time.time() - t_start, 1)} s)")
    return out
