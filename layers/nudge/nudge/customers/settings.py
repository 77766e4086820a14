"""Configuration of the customer functions (Customer Updated, Customer Deleted), read at entry."""

from pydantic import Field

from nudge.event_times import EventTimeSettings


class CustomerSettings(EventTimeSettings):
    """The field aliases are the environment variable names set in ``template.yaml``."""

    customers_table: str = Field(validation_alias="CUSTOMERS_TABLE", min_length=1)
    deliveries_table: str = Field(validation_alias="DELIVERIES_TABLE", min_length=1)
    consent_history_table: str = Field(validation_alias="CONSENT_HISTORY_TABLE", min_length=1)
    suppression_list_table: str = Field(validation_alias="SUPPRESSION_LIST_TABLE", min_length=1)
    address_hash_key_secret: str = Field(validation_alias="ADDRESS_HASH_KEY_SECRET", min_length=1)
    queue_url: str | None = Field(default=None, validation_alias="QUEUE_URL")
    dead_letter_queue_url: str | None = Field(default=None, validation_alias="DEAD_LETTER_QUEUE_URL")
