"""Adapters to training frameworks that are optional extras (``pip install sim-arena-gym[rllib]``).

Each submodule imports its framework only when one of its functions is called, so importing this
package never needs the extra. It sits at the env / agents level: it uses :mod:`sim_arena_gym.env`
and nothing imports it from below.

=================  ============================================================================
module             what
=================  ============================================================================
``rllib``          Ray RLlib: env creator for ``tune.register_env``, PPO config with action
                   masking, per-runner scenario parts and seeds, evaluation of a trained module
``rllib_module``   ``MaskedPPOTorchRLModule`` (imports ray and torch at import)
=================  ============================================================================
"""
