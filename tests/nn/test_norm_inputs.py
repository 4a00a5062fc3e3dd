"""Every registered normalisation refuses an input it cannot normalise, naming its shape."""

import pytest
import torch

from spikegraph.nn.norm import NORMS


@pytest.mark.parametrize("name", sorted(NORMS))
def test_an_input_of_another_width_or_rank_is_refused_naming_it(name):
    """tdBN reshaped a [4, 6, 7] input into rows of 8 features and normalised them without an
    error (4 * 6 * 7 is a multiple of 8); STFN failed inside torch's broadcasting."""
    norm = NORMS[name].for_layer(8, rho=1.0, v_threshold=1.0)
    with pytest.raises(ValueError, match=r"shape \(4, 6, 7\)\), but \w+ expects num_features=8"):
        norm(torch.rand(4, 6, 7))
    with pytest.raises(ValueError, match=r"got shape \(8,\)"):
        norm(torch.rand(8))
    assert norm(torch.rand(4, 6, 8)).shape == (4, 6, 8)
    assert norm(torch.rand(6, 8)).shape == (6, 8)
