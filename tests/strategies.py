from ngramsim.strategies import *  # noqa: F403 -- moved to ngramsim.strategies; kept for branches written before the move
