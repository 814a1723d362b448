"""Operations the models and penalties share: activations and their derivatives, encoder Jacobians,
whole datasets through a model in chunks."""
