"""Text is measured as sent: the documented maxLength holds before whitespace is stripped."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from lastmile.portal.schemas import PickupPointIn


def test_text_longer_than_its_max_length_is_refused_even_if_stripping_would_fit():
    with pytest.raises(ValidationError, match="name: at most 200 characters"):
        PickupPointIn.model_validate({"lat": 27.5, "lon": -99.5, "name": "\f" + "x" * 200})


def test_text_within_its_max_length_is_stripped():
    assert PickupPointIn.model_validate({"lat": 27.5, "lon": -99.5, "name": "  " + "x" * 198}).name == "x" * 198
