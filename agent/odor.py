"""The odor part of a scene: a smell reading: sensor values or descriptor labels (SmellNet).

Every field is optional: a scene carries what was measured, and an absent measure is
``None``, never a made-up number. Units are in the names. A reading must carry at least
one measure or one label, and every measure must be physically possible for the sensors
it comes from (BME688-class gas sensors, NDIR CO2 sensors); :meth:`Odor._check` refuses
the rest through :func:`agent.codec.fail`, naming the field.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from agent.codec import fail

#: the physical range of each measure, inclusive: (low, high, unit, where it comes from).
RANGES: dict[str, tuple[float, float, str, str]] = {
    # Bosch BSEC IAQ index and Sensirion's VOC index both run 0..500.
    "voc_index": (0.0, 500.0, "", "the BSEC IAQ / Sensirion VOC index scale"),
    # Sensirion SCD30/SCD4x and most NDIR CO2 sensors measure up to 40 000 ppm.
    "co2_ppm": (0.0, 40_000.0, " ppm", "an NDIR CO2 sensor's range"),
    "humidity_pct": (0.0, 100.0, " %", "relative humidity"),
    # The BME688's operating range (Bosch datasheet BST-BME688-DS000).
    "temperature_c": (-40.0, 85.0, " °C", "the BME688's operating range"),
}

#: a label is one lexeme: lower-case letters, digits and ``-``, starting with a letter.
_LABEL = re.compile(r"^[a-z][a-z0-9\-]*$")


@dataclass
class Odor:
    """One smell reading.

    Attributes:
        voc_index: volatile organic compounds as an index 0..500 (Bosch BSEC IAQ, or
            Sensirion's VOC index); higher is more polluted.
        co2_ppm: carbon dioxide, parts per million (0..40 000; outdoor air is ~420).
        humidity_pct: relative humidity, percent (0..100).
        temperature_c: air temperature, degrees Celsius (−40..85).
        gas_resistance_ohm: the metal-oxide gas sensor's resistance, ohms (> 0); it falls
            as reducing gases (VOCs, smoke) rise.
        labels: descriptors a nose reported itself (``smoke``, ``coffee``, ``damp``), one
            lexeme each.
    """

    voc_index: float | None = None
    co2_ppm: float | None = None
    humidity_pct: float | None = None
    temperature_c: float | None = None
    gas_resistance_ohm: float | None = None
    labels: list[str] = field(default_factory=list)

    def _check(self, path: str) -> None:
        for name, (low, high, unit, what) in RANGES.items():
            value = getattr(self, name)
            if value is not None and not low <= value <= high:
                fail(f"{path}.{name}", f"{value:g}{unit} is outside {low:g}..{high:g}{unit} ({what})")
        if self.gas_resistance_ohm is not None and not self.gas_resistance_ohm > 0:
            fail(f"{path}.gas_resistance_ohm", f"{self.gas_resistance_ohm:g} Ω must be positive")
        for i, label in enumerate(self.labels):
            if not _LABEL.match(label):
                fail(f"{path}.labels[{i}]", f"{label!r} must be one lower-case word (letters, digits, -)")
        if not self.labels and all(getattr(self, name) is None for name in (*RANGES, "gas_resistance_ohm")):
            fail(path, "a reading needs at least one measure or one label")

    def measures(self) -> dict[str, float]:
        """The measured values present, by field name (labels excluded)."""
        names = (*RANGES, "gas_resistance_ohm")
        return {name: getattr(self, name) for name in names if getattr(self, name) is not None}
