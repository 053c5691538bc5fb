"""Random-number replay against the test vectors of reference/rng-replay.md (verified there
against upstream's Lightning run bit for bit)."""

import pytest
import torch

from repro.method import colors as C
from repro.method.model import build_model, fingerprint
from repro.engine.replay import every_n_epochs, every_n_steps, int64_draw, plan_batches


def test_int64_draw():
    assert int64_draw(torch.Generator().manual_seed(0)) == 900450186894289455


def probs(n, labels=("red", "vibrant")):
    cube = C.rgb_cube(n).reshape(-1, 3)
    table = {"red": C.redness(cube) ** 8 * 0.08, "vibrant": C.vibrancy(cube) ** 10 * 0.01}
    return {k: torch.tensor(table[k], dtype=torch.float32) for k in labels}


def draws_after_init(seed, latent, layers):
    g = torch.Generator().manual_seed(seed)
    model = build_model(latent, 16, layers, g)
    return g, model


def test_paper_seed_7_streams():
    g, model = draws_after_init(7, 4, 1)
    assert fingerprint(model) == "fa6796e0eed4cb5e9f6ba0ae6cba910722f97a688636e376d0fd90028e904d73"
    state = g.get_state()
    assert [int64_draw(g) for _ in range(4)] == [8936815327463878297, 2276760863082906606,
                                                 2389903565566515157, 7562665086030944511]
    g.set_state(state)
    plan = plan_batches(g, 512, probs(8), 1501, 64, 4, every_n_steps(150))
    assert plan.draws == 386
    assert plan.index[0][:8].tolist() == [385, 355, 156, 374, 33, 288, 88, 103]
    red = [(k, int(i)) for k, lab in enumerate(plan.labels) for i in lab["red"].nonzero().flatten()][:5]
    vib = [(k, int(i)) for k, lab in enumerate(plan.labels) for i in lab["vibrant"].nonzero().flatten()][:5]
    assert red == [(47, 5), (57, 42), (86, 37), (95, 49), (162, 9)]
    assert vib == [(19, 16), (25, 26), (38, 2), (44, 12), (55, 62)]
    assert sum(int(lab["red"].sum()) for lab in plan.labels) == 74
    assert sum(int(lab["vibrant"].sum()) for lab in plan.labels) == 106
    assert sorted(plan.validate_after) == list(range(149, 1500, 150))
    # The last draw was V after step 1500 (index 1499).
    g2, _ = draws_after_init(7, 4, 1)
    for _ in range(385):
        int64_draw(g2)
    assert int64_draw(g2) == 4524261748078559620


def test_seed_notebook_streams():
    g, model = draws_after_init(0, 4, 1)
    assert fingerprint(model) == "6159c8e9a7390cbdb5e6c4688742e1312cbd8aab9ed8b19bfd9478293236ec35"
    plan = plan_batches(g, 1000, probs(10), 1501, 64, 4, every_n_epochs(10))
    assert plan.draws == 197
    assert plan.index[0][:8].tolist() == [422, 783, 679, 300, 667, 133, 602, 757]
    assert len(plan.index[15]) == 40  # the 10^3 cube's last batch per epoch
    red = [(k, int(i)) for k, lab in enumerate(plan.labels) for i in lab["red"].nonzero().flatten()][:5]
    assert red == [(0, 47), (7, 14), (34, 49), (43, 62), (71, 30)]
    assert sum(int(lab["red"].sum()) for lab in plan.labels) == 76
    assert sum(int(lab["vibrant"].sum()) for lab in plan.labels) == 102
    assert sorted(plan.validate_after) == [160 * j - 1 for j in range(1, 10)]


def test_isolated_model_init():
    _g, model = draws_after_init(33, 5, 2)
    assert fingerprint(model) == "7755b4708bc9241959e1b5a8c67962b76dc0bb908eb5405769bdab9a0b6180be"
    g0, _ = draws_after_init(0, 5, 2)
    assert [int64_draw(g0) for _ in range(2)] == [8748483062231442713, 9045268835731528109]


def replay_batch_by_batch(g, n_samples, probs, n_steps, batch_size, workers, validates):
    """The replay as upstream's loader ran it, one batch at a time: the reference that
    plan_batches' one-draw-per-worker-and-epoch version must equal bit for bit."""
    nb = -(-n_samples // batch_size)
    index, labels, val_steps, draws, k, e = [], [], set(), 0, 0, 0
    while k < n_steps:
        base, sampler_seed = int64_draw(g), int64_draw(g)
        draws += 2
        idx = torch.randint(high=n_samples, size=(n_samples,), generator=torch.Generator().manual_seed(sampler_seed))
        worker_g = [torch.Generator().manual_seed(base + w) for w in range(max(workers, 1))]
        for b in range(nb):
            if k == n_steps:
                break
            i = idx[b * batch_size:(b + 1) * batch_size]
            lg = worker_g[b % workers] if workers > 0 else g
            labels.append({n: (torch.rand(len(i), generator=lg) < p[i]).float() for n, p in probs.items()})
            index.append(i)
            if validates(k, e, b, nb):
                int64_draw(g)
                draws += 1
                val_steps.add(k)
            k += 1
        e += 1
    return index, labels, val_steps, draws


@pytest.mark.parametrize("n_samples,batch_size,workers,labels", [
    (512, 64, 4, ("red", "vibrant")),  # the paper's setting
    (1000, 64, 4, ("red", "vibrant")),  # a short last batch per epoch
    (1000, 64, 3, ("red",)),  # workers that do not divide the batches
    (512, 64, 0, ("red", "vibrant")),  # no workers: labels from G, between validation draws
    (512, 64, 4, ()),  # no labels
])
def test_plan_equals_the_batch_by_batch_replay(n_samples, batch_size, workers, labels):
    cube = 8 if n_samples == 512 else 10
    p = probs(cube, labels)
    # ramp the probabilities up so that each batch holds positives and a misplaced draw shows
    p = {k: (v * 40).clamp(max=0.6) for k, v in p.items()}
    validates = every_n_steps(7)
    plan = plan_batches(torch.Generator().manual_seed(3), n_samples, p, 203, batch_size, workers, validates)
    index, lab, val_steps, draws = replay_batch_by_batch(
        torch.Generator().manual_seed(3), n_samples, p, 203, batch_size, workers, validates)
    assert len(plan.index) == len(index) == 203
    assert all(a.equal(b) for a, b in zip(plan.index, index))
    assert all(a.keys() == b.keys() and all(a[k].equal(b[k]) for k in a) for a, b in zip(plan.labels, lab))
    assert all(int(v.sum()) > 50 for v in plan.flat_labels.values())
    assert plan.validate_after == val_steps and plan.draws == draws
    assert plan.uniform == (n_samples % batch_size == 0)
    if plan.uniform:
        assert plan.rows(plan.flat_index)[17].equal(index[17])


def test_a_sampled_validation_draws_what_torchs_loader_draws():
    """Upstream's 2.9.1 notebook at ebbddd5 and 7dd2412 validated on 64 colours drawn with
    replacement: torch's own DataLoader over a RandomSampler, built from the global generator,
    is the reference. Its iterator draws the base seed V, then the sampler's seed, then 64
    indices in two calls of 32; after it the global generator is two int64 draws further on."""
    from torch.utils.data import DataLoader, RandomSampler, TensorDataset

    from repro.engine.replay import validation_sample

    data = TensorDataset(torch.arange(351))
    for seed in (0, 7, 33):
        torch.manual_seed(seed)
        loader = DataLoader(data, batch_size=64, sampler=RandomSampler(data, replacement=True, num_samples=64))
        (batch,) = next(iter(loader))
        after = torch.randint(2**31, (4,))  # where the global generator stands after the validation
        g = torch.Generator().manual_seed(seed)
        int64_draw(g)  # V, the iterator's base seed
        mine = validation_sample(g, 64, 351)
        assert torch.equal(mine, batch), seed
        assert torch.equal(torch.randint(2**31, (4,), generator=g), after), seed
    # 70 draws: two calls of 32 and one of 6, as the sampler makes them
    torch.manual_seed(1)
    loader = DataLoader(data, batch_size=70, sampler=RandomSampler(data, replacement=True, num_samples=70))
    g = torch.Generator().manual_seed(1)
    int64_draw(g)
    assert torch.equal(validation_sample(g, 70, 351), next(iter(loader))[0])


def test_a_sampled_validation_plan_draws_two_seeds_per_validation():
    p = {"red": torch.full((512,), 0.01)}
    plain = plan_batches(torch.Generator().manual_seed(0), 512, p, 1501, 64, 4, every_n_steps(150))
    sampled = plan_batches(torch.Generator().manual_seed(0), 512, p, 1501, 64, 4, every_n_steps(150), (64, 351))
    assert sampled.draws == plain.draws + 10 == 188 * 2 + 20  # 396 int64 draws, as upstream's 7dd2412 made
    assert sorted(sampled.val_samples) == sorted(plain.validate_after) and not plain.val_samples
    # the training batches agree up to the first validation, then the streams part
    first = 150 * 64
    assert torch.equal(sampled.flat_index[:first], plain.flat_index[:first])
    assert not torch.equal(sampled.flat_index, plain.flat_index)
    assert all(len(v) == 64 and int(v.max()) < 351 for v in sampled.val_samples.values())
