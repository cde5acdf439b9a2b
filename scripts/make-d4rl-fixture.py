#!/usr/bin/env python3
"""Writes D4RL- and Minari-layout files with h5py, as Python users would, to test Stitch's readers.

    python3 scripts/make-d4rl-fixture.py OUT_DIR            # small fixtures + expected.json
    python3 scripts/make-d4rl-fixture.py --rows N FILE.hdf5 # one maze2d-like file of N rows (benchmarks)

The small D4RL file has a known episode structure (one-step episode, terminal and timeout on the
same row, trailing rows after the last boundary); expected.json holds the counts Stitch must report.
Needs python3-h5py (Debian: /usr/bin/python3).
"""
import json
import os
import sys

import h5py
import numpy as np


def maze_like(rows, lengths, rng):
    obs = rng.normal(size=(rows, 4)).astype(np.float32)
    actions = np.clip(rng.normal(size=(rows, 2)), -1, 1).astype(np.float32)
    rewards = (rng.random(rows) < 0.3).astype(np.float32)
    terminals = np.zeros(rows, dtype=bool)
    timeouts = np.zeros(rows, dtype=bool)
    return obs, actions, rewards, terminals, timeouts


def write_d4rl(path, obs, actions, rewards, terminals, timeouts, goal, attrs):
    with h5py.File(path, "w") as f:
        f.create_dataset("observations", data=obs, compression="gzip")
        f.create_dataset("actions", data=actions, compression="gzip")
        f.create_dataset("rewards", data=rewards, compression="gzip")
        f.create_dataset("terminals", data=terminals, compression="gzip")
        f.create_dataset("timeouts", data=timeouts, compression="gzip")
        f.create_dataset("infos/goal", data=goal, compression="gzip")
        f.create_dataset("infos/qpos", data=obs[:, :2], compression="gzip")
        f.create_dataset("infos/qvel", data=obs[:, 2:], compression="gzip")
        for key, value in attrs.items():
            f.attrs[key] = value


def small_fixtures(out_dir):
    os.makedirs(out_dir, exist_ok=True)
    rng = np.random.default_rng(7)
    # (length, ends with terminal, ends with timeout); 50 trailing rows follow the last episode.
    episodes = [(100, False, True), (1, False, True), (250, True, False), (49, True, True), (150, False, True)]
    trailing = 50
    rows = sum(length for length, _, _ in episodes) + trailing
    obs, actions, rewards, terminals, timeouts = maze_like(rows, episodes, rng)
    start = 0
    returns = []
    for length, terminal, timeout in episodes:
        end = start + length
        terminals[end - 1] = terminal
        timeouts[end - 1] = timeout
        returns.append(float(rewards[start:end].astype(np.float64).sum()))
        start = end
    goal = np.tile(np.array([[7.0, 9.0]], dtype=np.float32), (rows, 1))
    write_d4rl(os.path.join(out_dir, "maze2d-tiny.hdf5"), obs, actions, rewards, terminals, timeouts, goal,
               {"env": "maze2d-large-v1", "generator": "scripts/make-d4rl-fixture.py"})
    kept = rows - trailing
    expected = {
        "rows": rows,
        "transitions": kept,
        "episodes": len(episodes),
        "obsDim": 4,
        "actionDim": 2,
        "oneStepEpisodes": 1,
        "terminalAndTimeout": 1,
        "trailing": trailing,
        "returnMin": min(returns),
        "returnMax": max(returns),
        "returnMean": sum(returns) / len(returns),
        "stateMean": obs[:kept].astype(np.float64).mean(axis=0).tolist(),
        "stateStd": (obs[:kept].astype(np.float64).std(axis=0) + 1e-6).tolist(),
    }

    # Minari: Dict observations, T+1 rows, infos with the reset row, one empty episode, an
    # action outside the declared Box, and metadata.json with bare Infinity as Python writes it.
    minari_dir = os.path.join(out_dir, "minari-tiny", "data")
    os.makedirs(minari_dir, exist_ok=True)
    steps = [5, 7, 0, 3]
    with h5py.File(os.path.join(minari_dir, "main_data.hdf5"), "w") as f:
        for k, t in enumerate(steps):
            g = f.create_group(f"episode_{k}")
            g.attrs["id"] = k
            g.attrs["total_steps"] = t
            g.create_dataset("observations/observation", data=rng.normal(size=(t + 1, 4)))
            g.create_dataset("observations/desired_goal", data=np.full((t + 1, 2), float(k)))
            a = np.clip(rng.normal(size=(t, 2)), -1, 1)
            if k == 1:
                a[3, 1] = 1.5
            g.create_dataset("actions", data=a.astype(np.float32))
            g.create_dataset("rewards", data=np.arange(t, dtype=np.float64))
            term = np.zeros(t, dtype=bool)
            trunc = np.zeros(t, dtype=bool)
            if k == 0:
                term[-1] = True
            elif k == 1:
                trunc[-1] = True
            g.create_dataset("terminations", data=term)
            g.create_dataset("truncations", data=trunc)
            g.create_dataset("infos/success", data=np.arange(t + 1, dtype=np.float64) * 10)
    box = lambda shape, low, high: json.dumps({"type": "Box", "dtype": "float32", "shape": [shape],
                                               "low": [low] * shape, "high": [high] * shape})
    metadata = {
        "dataset_id": "test/tiny-v0", "total_episodes": 4, "total_steps": 15, "data_format": "hdf5",
        "observation_space": box(6, float("-inf"), float("inf")), "action_space": box(2, -1.0, 1.0),
        "env_spec": json.dumps({"id": "PointMaze_UMaze-v3", "max_episode_steps": float("inf")}),
        "ref_max_score": float("inf"), "minari_version": "0.5.3",
    }
    with open(os.path.join(minari_dir, "metadata.json"), "w") as out:
        json.dump(metadata, out)  # Python writes bare Infinity here
    with open(os.path.join(out_dir, "expected.json"), "w") as out:
        json.dump(expected, out, indent=1)


def large_file(rows, path):
    rng = np.random.default_rng(1)
    obs, actions, rewards, terminals, timeouts = maze_like(rows, None, rng)
    # Goal-reached segments of random length, as in maze2d: mean 200 steps.
    ends = np.cumsum(rng.integers(1, 400, size=rows // 100 + 1))
    timeouts[ends[ends < rows] - 1] = True
    write_d4rl(path, obs, actions, rewards, terminals, timeouts, obs[:, :2].copy(), {"env": "synthetic-maze2d"})


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--rows":
        large_file(int(sys.argv[2]), sys.argv[3])
    elif len(sys.argv) == 2:
        small_fixtures(sys.argv[1])
    else:
        sys.exit(__doc__)
