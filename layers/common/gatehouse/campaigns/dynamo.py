"""The CampaignStore adapter on DynamoDB: the campaign, its counters and state log in its partition; engagements apart.

  campaign    pk=CAMPAIGN#<id>  sk=META
              gsi1pk=OWNER#<ownerId>  gsi1sk=CAMPAIGN#<createdAt>#<id>   (an owner's campaigns, newest first)
              gsi2pk=CAMPAIGNS        gsi2sk=<createdAt>#<id>             (every campaign, for admin)
  counters    pk=CAMPAIGN#<id>  sk=COUNTERS   (no index attributes: counting never writes an index)
  state log   pk=CAMPAIGN#<id>  sk=LOG#<seq, 6 digits>
  callback    pk=CAMPAIGN#<id>  sk=CALLBACK#<eventId>   (one outcome per event: a redelivery records nothing)
  engagement  pk=CAMPAIGNENG#<id>#<userId>  sk=ENG#<type>   (dedupe per user and type)
  participant pk=CAMPAIGNENG#<id>#<userId>  sk=PART         (counts a user once)

Engagement items sit in a partition per (campaign, user), so a busy campaign's engagements
spread over many partitions; its one counters item bounds it near 1,000 counted engagements a
second (docs/timers.md). The campaign is written with a Put conditioned on its version.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Final

from botocore.exceptions import ClientError

from gatehouse.campaigns.records import (
    REWARD_CLAIMED,
    CallbackLogEntry,
    Campaign,
    CampaignPage,
    Counters,
    EngagementWrite,
    StateLogEntry,
)
from gatehouse.clients.dynamo_items import from_item, to_item
from gatehouse.clients.dynamo_pages import IndexList, newest_first
from gatehouse.times import to_rfc3339
from gatehouse.transactions import Transaction

_FIELDS: Final = (
    ("campaign_id", "campaignId"),
    ("owner_id", "ownerId"),
    ("name", "name"),
    ("status", "status"),
    ("start_time", "startTime"),
    ("end_time", "endTime"),
    ("auto_close", "autoClose"),
    ("created_at", "createdAt"),
    ("updated_at", "updatedAt"),
    ("created_by", "createdBy"),
    ("version", "version"),
    ("target_engagements", "targetEngagements"),
    ("callback_url", "callbackUrl"),
    ("started_at", "startedAt"),
    ("completed_at", "completedAt"),
    ("cancelled_at", "cancelledAt"),
    ("cancel_reason", "cancelReason"),
    ("completed_by", "completedBy"),
    ("callback_secret_sealed", "callbackSecretSealed"),
)
_CALLBACK_FIELDS: Final = (
    ("event_id", "eventId"),
    ("outcome", "outcome"),
    ("at_ms", "atMs"),
    ("http_status", "httpStatus"),
    ("error", "error"),
    ("deliveries", "deliveries"),
)
_LOG_FIELDS: Final = (
    ("seq", "seq"),
    ("at_ms", "atMs"),
    ("from_status", "fromStatus"),
    ("to_status", "toStatus"),
    ("trigger", "trigger"),
    ("actor", "actor"),
    ("timer_id", "timerId"),
    ("reason", "reason"),
)


def _key(campaign_id: str, sort_key: str) -> dict[str, Any]:
    return {"pk": {"S": f"CAMPAIGN#{campaign_id}"}, "sk": {"S": sort_key}}


def campaign_item(campaign: Campaign) -> dict[str, Any]:
    created = to_rfc3339(campaign.created_at)
    values: dict[str, Any] = {
        "pk": f"CAMPAIGN#{campaign.campaign_id}",
        "sk": "META",
        "gsi1pk": f"OWNER#{campaign.owner_id}",
        "gsi1sk": f"CAMPAIGN#{created}#{campaign.campaign_id}",
        "gsi2pk": "CAMPAIGNS",
        "gsi2sk": f"{created}#{campaign.campaign_id}",
        "reminders": list(campaign.reminders),
        # Metadata as JSON text: its numbers and nesting come back exactly as given.
        "metadata": None if campaign.metadata is None else json.dumps(campaign.metadata, separators=(",", ":")),
    }
    values.update({attr: getattr(campaign, name) for name, attr in _FIELDS})
    return to_item(values)


def campaign_from_item(item: dict[str, Any]) -> Campaign:
    values = from_item(item)
    metadata = values.get("metadata")
    fields: dict[str, Any] = {name: values.get(attr) for name, attr in _FIELDS}
    return Campaign(
        **fields,
        metadata=json.loads(metadata) if metadata else None,
        reminders=tuple(values.get("reminders") or ()),
    )


class DynamoCampaignStore:
    """CampaignStore on the single table through a low-level client."""

    def __init__(self, client: Any, table_name: str) -> None:
        self._client = client
        self._table = table_name

    # --- writes (staged) -----------------------------------------------------------------------

    def stage_put(
        self, tx: Transaction, before: Campaign | None, after: Campaign, entries: Sequence[StateLogEntry] = ()
    ) -> None:
        put: dict[str, Any] = {"TableName": self._table, "Item": campaign_item(after)}
        if before is None:
            put["ConditionExpression"] = "attribute_not_exists(pk)"
        else:
            put["ConditionExpression"] = "#version = :version"
            put["ExpressionAttributeNames"] = {"#version": "version"}
            put["ExpressionAttributeValues"] = {":version": {"N": str(before.version)}}
        tx.add(f"campaign:{after.campaign_id}", {"Put": put})
        for entry in entries:
            values = {"pk": f"CAMPAIGN#{after.campaign_id}", "sk": f"LOG#{entry.seq:06d}"}
            values.update({attr: getattr(entry, name) for name, attr in _LOG_FIELDS})
            tx.add(
                f"campaignlog:{after.campaign_id}:{entry.seq}",
                {
                    "Put": {
                        "TableName": self._table,
                        "Item": to_item(values),
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
            )

    def stage_is_running(self, tx: Transaction, campaign: Campaign) -> None:
        tx.add(
            f"campaign:{campaign.campaign_id}",
            {
                "ConditionCheck": {
                    "TableName": self._table,
                    "Key": _key(campaign.campaign_id, "META"),
                    "ConditionExpression": "#status = :running",
                    "ExpressionAttributeNames": {"#status": "status"},
                    "ExpressionAttributeValues": {":running": {"S": "RUNNING"}},
                }
            },
        )

    def stage_new_counters(self, tx: Transaction, campaign_id: str, threshold: int | None) -> None:
        item = to_item(
            {
                "pk": f"CAMPAIGN#{campaign_id}",
                "sk": "COUNTERS",
                "totalEngagements": 0,
                "participants": 0,
                "rewardsClaimed": 0,
                "closeThreshold": threshold,
            }
        )
        tx.add(
            f"counters:{campaign_id}",
            {"Put": {"TableName": self._table, "Item": item, "ConditionExpression": "attribute_not_exists(pk)"}},
        )

    def stage_threshold(self, tx: Transaction, campaign_id: str, threshold: int | None) -> None:
        update: dict[str, Any] = {"TableName": self._table, "Key": _key(campaign_id, "COUNTERS")}
        if threshold is None:
            update["UpdateExpression"] = "REMOVE closeThreshold"
            update["ConditionExpression"] = "attribute_exists(pk)"
        else:
            # Only while the count is below it: a target the count already met would never be reached.
            update["UpdateExpression"] = "SET closeThreshold = :t"
            update["ConditionExpression"] = "totalEngagements <= :t"
            update["ExpressionAttributeValues"] = {":t": {"N": str(threshold)}}
        tx.add(f"counters:{campaign_id}", {"Update": update})

    def stage_engagement(self, tx: Transaction, write: EngagementWrite, *, reached: bool) -> None:
        engagement = write.engagement
        partition = f"CAMPAIGNENG#{engagement.campaign_id}#{engagement.user_id}"
        tx.add(
            f"engagement:{engagement.user_id}",
            {
                "Put": {
                    "TableName": self._table,
                    "Item": to_item(
                        {
                            "pk": partition,
                            "sk": f"ENG#{engagement.engagement_type}",
                            "campaignId": engagement.campaign_id,
                            "userId": engagement.user_id,
                            "engagementType": engagement.engagement_type,
                            "at": engagement.at,
                            "metadata": None
                            if engagement.metadata is None
                            else json.dumps(engagement.metadata, separators=(",", ":")),
                        }
                    ),
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
        )
        if write.new_participant:
            tx.add(
                f"participant:{engagement.user_id}",
                {
                    "Put": {
                        "TableName": self._table,
                        "Item": to_item({"pk": partition, "sk": "PART", "at": engagement.at}),
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
            )
        values: dict[str, Any] = {
            ":one": {"N": "1"},
            ":p": {"N": "1" if write.new_participant else "0"},
            ":r": {"N": "1" if engagement.engagement_type == REWARD_CLAIMED else "0"},
            ":now": {"N": str(engagement.at)},
        }
        expression = "ADD totalEngagements :one, participants :p, rewardsClaimed :r SET lastUpdated = :now"
        if write.expected_total is None:
            condition = (
                "attribute_exists(pk) AND (attribute_not_exists(closeThreshold) OR totalEngagements < closeThreshold)"
            )
        else:
            condition = "totalEngagements = :expected"
            values[":expected"] = {"N": str(write.expected_total)}
        if reached:
            expression += " REMOVE closeThreshold"
        tx.add(
            f"counters:{engagement.campaign_id}",
            {
                "Update": {
                    "TableName": self._table,
                    "Key": _key(engagement.campaign_id, "COUNTERS"),
                    "UpdateExpression": expression,
                    "ConditionExpression": condition,
                    "ExpressionAttributeValues": values,
                }
            },
        )

    # --- reads ---------------------------------------------------------------------------------

    def get(self, campaign_id: str) -> Campaign | None:
        answer = self._client.get_item(TableName=self._table, Key=_key(campaign_id, "META"), ConsistentRead=True)
        item = answer.get("Item")
        return campaign_from_item(item) if item else None

    def counters(self, campaign_id: str) -> Counters:
        answer = self._client.get_item(TableName=self._table, Key=_key(campaign_id, "COUNTERS"), ConsistentRead=True)
        values = from_item(answer.get("Item") or {})
        return Counters(
            total_engagements=values.get("totalEngagements", 0),
            participants=values.get("participants", 0),
            rewards_claimed=values.get("rewardsClaimed", 0),
            last_updated=values.get("lastUpdated"),
            close_threshold=values.get("closeThreshold"),
        )

    def state_log(self, campaign_id: str) -> list[StateLogEntry]:
        request: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :p AND begins_with(sk, :s)",
            "ExpressionAttributeValues": {":p": {"S": f"CAMPAIGN#{campaign_id}"}, ":s": {"S": "LOG#"}},
            "ConsistentRead": True,
        }
        entries: list[StateLogEntry] = []
        while True:
            answer = self._client.query(**request)
            for item in answer.get("Items", []):
                values = from_item(item)
                fields: dict[str, Any] = {name: values.get(attr) for name, attr in _LOG_FIELDS}
                entries.append(StateLogEntry(**fields))
            if not answer.get("LastEvaluatedKey"):
                return entries
            request["ExclusiveStartKey"] = answer["LastEvaluatedKey"]

    def record_callback(self, campaign_id: str, entry: CallbackLogEntry) -> bool:
        values: dict[str, Any] = {"pk": f"CAMPAIGN#{campaign_id}", "sk": f"CALLBACK#{entry.event_id}"}
        values.update({attr: getattr(entry, name) for name, attr in _CALLBACK_FIELDS})
        try:
            self._client.put_item(
                TableName=self._table, Item=to_item(values), ConditionExpression="attribute_not_exists(pk)"
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False  # this event's outcome is already recorded (a redelivered message)
            raise
        return True

    def callback_log(self, campaign_id: str) -> list[CallbackLogEntry]:
        request: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :p AND begins_with(sk, :s)",
            "ExpressionAttributeValues": {":p": {"S": f"CAMPAIGN#{campaign_id}"}, ":s": {"S": "CALLBACK#"}},
            "ConsistentRead": True,
        }
        entries: list[CallbackLogEntry] = []
        while True:
            answer = self._client.query(**request)
            for item in answer.get("Items", []):
                values = from_item(item)
                fields: dict[str, Any] = {name: values.get(attr) for name, attr in _CALLBACK_FIELDS}
                entries.append(CallbackLogEntry(**fields))
            if not answer.get("LastEvaluatedKey"):
                return sorted(entries, key=lambda e: (e.at_ms, e.event_id))
            request["ExclusiveStartKey"] = answer["LastEvaluatedKey"]

    def list_by_owner(self, owner_id: str, limit: int, cursor: str | None) -> CampaignPage:
        shape = IndexList("GSI1", "gsi1pk", "gsi1sk", f"OWNER#{owner_id}", "CAMPAIGN#", "CAMPAIGN#", "META")
        items, next_cursor = newest_first(self._client, self._table, shape, limit, cursor)
        return CampaignPage([campaign_from_item(item) for item in items], next_cursor)

    def list_all(self, limit: int, cursor: str | None) -> CampaignPage:
        shape = IndexList("GSI2", "gsi2pk", "gsi2sk", "CAMPAIGNS", "", "CAMPAIGN#", "META")
        items, next_cursor = newest_first(self._client, self._table, shape, limit, cursor)
        return CampaignPage([campaign_from_item(item) for item in items], next_cursor)
