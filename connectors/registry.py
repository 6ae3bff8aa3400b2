"""The connectors by the name the CLI's --connector takes."""

from __future__ import annotations

from connectors.base import Connector
from connectors.care.connector import CONNECTOR as CARE
from connectors.fhir.connector import CONNECTOR as FHIR
from connectors.hl7v2.connector import CONNECTOR as HL7V2
from connectors.jahis.connector import CONNECTOR as JAHIS
from connectors.resident_register.connector import CONNECTOR as RESIDENT_REGISTER
from connectors.ssmix2.connector import CONNECTOR as SSMIX2

CONNECTORS: dict[str, Connector] = {
    connector.name: connector for connector in (SSMIX2, HL7V2, JAHIS, CARE, FHIR, RESIDENT_REGISTER)
}


class UnknownConnectorError(LookupError):
    pass


def connector_for(name: str) -> Connector:
    try:
        return CONNECTORS[name]
    except KeyError:
        raise UnknownConnectorError(f"unknown connector '{name}' (known: {', '.join(sorted(CONNECTORS))})") from None
