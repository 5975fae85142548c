"""Wall and CPU time of one LoRA training step of the default model, the figure behind
``adapters/estimate.py``'s throughput.

    python -m codemm.eval.bench.train_step [--quant none|4bit] [--steps 3]

A step is the default recipe's: 4 packed blocks of 256 tokens, forward and backward through LoRA on
its modules (r=16), AdamW. Measured 2026-12-06 on the development machine, 2 idle cores, with the
recipe of that day (attention projections only): 3.4-3.5 s wall (6.7-7.2 CPU-s) for both fp32 and
the 4-bit base, i.e. ~290 tokens/s. Whole runs are slower (checkpoints, data): the estimate's
figures come from those (adapters/estimate.py).
"""

from __future__ import annotations

import argparse
import time


def main() -> None:
    import torch
    from peft import LoraConfig, get_peft_model

    from codemm.adapters.recipe import load_recipe
    from codemm.adapters.train import load_for_training
    from codemm.config import Settings

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quant", default="none", choices=("none", "4bit"))
    parser.add_argument("--steps", type=int, default=3)
    args = parser.parse_args()
    recipe = load_recipe("default")
    model, _, _ = load_for_training(Settings().model, args.quant, "cpu", 0)
    config = LoraConfig(r=recipe.r, lora_alpha=recipe.alpha, target_modules=recipe.modules(), task_type="CAUSAL_LM")
    model = get_peft_model(model, config)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=recipe.lr)
    ids = torch.randint(0, 40000, (recipe.batch_size, recipe.seq_len))
    for step in range(args.steps):
        wall, cpu = time.perf_counter(), time.process_time()
        model(input_ids=ids, labels=ids).loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        tokens = recipe.batch_size * recipe.seq_len
        print(f"{args.quant} step {step}: {wall:.1f} s wall, {cpu:.1f} CPU-s, {tokens / wall:.0f} tokens/s", flush=True)


if __name__ == "__main__":
    main()
