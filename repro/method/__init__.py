"""The paper's method, tensors in and tensors out: the RGB colour space (colors), the spherical
autoencoder (model), the regularisers that place concepts (regularizers), interventions at the
bottleneck (interventions), weight surgery (surgery) and the optimiser (adam). Each kind of
regulariser and intervention declares its spec fields beside its arithmetic."""
