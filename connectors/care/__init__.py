"""Care-facility and 地域包括支援センター CSV exports (the format docs/connectors/care-csv.md defines): seven
tables of clients, 要介護認定, services, Barthel Index, falls, 基本チェックリスト and vital signs."""
