"""The reference trainer: supervised, DPO and RL training of the reference model on a CPU."""
