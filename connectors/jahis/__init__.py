"""JAHIS 電子版お薬手帳 files (JAHISTC01 to 12, CP932 or UTF-8) as pharmacies hand them out: the patient, what was
dispensed and by whom, OTC drugs, 残薬確認. The mapping is documented in docs/connectors/jahis.md."""
