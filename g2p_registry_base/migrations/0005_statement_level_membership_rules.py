"""Check the membership rules once per statement, over every row it wrote.

The rules of 0002/0003 ran PL/pgSQL once per row: a membership insert probed the registrant
table twice per row, and each new "Head" link locked its group and counted the group's heads
per row, so a bulk write of a million memberships spent minutes in triggers. The same rules
now run once per statement over the statement's transition table, with the same messages,
error codes and constraint names:

- memberships join a registrant group to a registrant individual (after INSERT, after UPDATE);
- a unique kind is held by one current membership per group (after INSERT or UPDATE of the
  link table); the groups concerned are locked in id order first, so two concurrent writers
  cannot both win and never deadlock on each other's groups.

Re-opening a membership (update of its group or end date) keeps its row-level check: it is a
one-record action. The audit triggers of the link tables are reinstalled from their current
(statement-level) definitions.
"""

from django.db import migrations

LINK_TRIGGERS = (
    "g2p_registry_base.GroupMembership_kinds:kind_add_insert",
    "g2p_registry_base.GroupMembership_kinds:kind_remove_delete",
    "g2p_registry_base.Registrant_tags:tag_add_insert",
    "g2p_registry_base.Registrant_tags:tag_remove_delete",
)


def install_link_triggers(apps, schema_editor):
    import pgtrigger

    pgtrigger.install(*LINK_TRIGGERS, database=schema_editor.connection.alias)


FORWARD = r"""
DROP TRIGGER g2p_membership_check_parties ON g2p_registry_base_groupmembership;
DROP FUNCTION g2p_membership_check_parties();

CREATE FUNCTION g2p_membership_check_parties() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    v_id bigint;
BEGIN
    SELECT n.group_id INTO v_id FROM g2p_new_memberships n
     WHERE NOT EXISTS (SELECT 1 FROM g2p_registry_base_registrant r
                        WHERE r.id = n.group_id AND r.is_group AND r.is_registrant)
     ORDER BY n.id LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'group: registrant % is not a registrant group', v_id
            USING ERRCODE = 'check_violation', CONSTRAINT = 'membership_group_is_group';
    END IF;
    SELECT n.individual_id INTO v_id FROM g2p_new_memberships n
     WHERE NOT EXISTS (SELECT 1 FROM g2p_registry_base_registrant r
                        WHERE r.id = n.individual_id AND NOT r.is_group AND r.is_registrant)
     ORDER BY n.id LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'individual: registrant % is not a registrant individual', v_id
            USING ERRCODE = 'check_violation', CONSTRAINT = 'membership_individual_is_individual';
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER g2p_membership_check_parties_insert
    AFTER INSERT ON g2p_registry_base_groupmembership
    REFERENCING NEW TABLE AS g2p_new_memberships
    FOR EACH STATEMENT EXECUTE FUNCTION g2p_membership_check_parties();
CREATE TRIGGER g2p_membership_check_parties_update
    AFTER UPDATE ON g2p_registry_base_groupmembership
    REFERENCING NEW TABLE AS g2p_new_memberships
    FOR EACH STATEMENT EXECUTE FUNCTION g2p_membership_check_parties();

DROP TRIGGER g2p_membership_kind_link_check ON g2p_registry_base_groupmembership_kinds;
DROP FUNCTION g2p_membership_kind_link_check();

CREATE FUNCTION g2p_membership_kind_link_check() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    v_group bigint;
    v_name text;
BEGIN
    PERFORM 1 FROM g2p_registry_base_registrant
     WHERE id IN (SELECT m.group_id FROM g2p_new_kind_links l
                    JOIN g2p_registry_base_membershipkind k
                      ON k.id = l.membershipkind_id AND k.is_unique
                    JOIN g2p_registry_base_groupmembership m ON m.id = l.groupmembership_id)
     ORDER BY id FOR UPDATE;
    IF NOT FOUND THEN
        RETURN NULL;  -- no unique kind among the new links
    END IF;
    -- Current = no end date, or an end date still ahead (clock_timestamp(): a membership
    -- ended earlier in the same transaction has ended).
    SELECT c.group_id, c.kind_name INTO v_group, v_name
      FROM (SELECT DISTINCT m.group_id, k.id AS kind_id, k.name AS kind_name
              FROM g2p_new_kind_links l
              JOIN g2p_registry_base_membershipkind k
                ON k.id = l.membershipkind_id AND k.is_unique
              JOIN g2p_registry_base_groupmembership m ON m.id = l.groupmembership_id) c
     -- Per group: its memberships by group_id, each probed in the link table's unique
     -- (membership, kind) index by a scalar subquery, which the planner keeps as a probe; a
     -- join (or an EXISTS, turned into one) is planned from the link table's size before the
     -- statement and scans every link of the kind per group.
     WHERE (SELECT count(*) FROM g2p_registry_base_groupmembership m
             WHERE m.group_id = c.group_id
               AND (m.ended_date IS NULL OR m.ended_date > clock_timestamp())
               AND (SELECT true FROM g2p_registry_base_groupmembership_kinds l
                     WHERE l.groupmembership_id = m.id AND l.membershipkind_id = c.kind_id)) > 1
     ORDER BY c.group_id LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'kinds: Only one % is allowed per group', v_name
            USING ERRCODE = 'unique_violation', CONSTRAINT = 'membership_unique_kind_per_group';
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER g2p_membership_kind_link_check_insert
    AFTER INSERT ON g2p_registry_base_groupmembership_kinds
    REFERENCING NEW TABLE AS g2p_new_kind_links
    FOR EACH STATEMENT EXECUTE FUNCTION g2p_membership_kind_link_check();
CREATE TRIGGER g2p_membership_kind_link_check_update
    AFTER UPDATE ON g2p_registry_base_groupmembership_kinds
    REFERENCING NEW TABLE AS g2p_new_kind_links
    FOR EACH STATEMENT EXECUTE FUNCTION g2p_membership_kind_link_check();
"""

BACKWARD = r"""
DROP TRIGGER g2p_membership_kind_link_check_insert ON g2p_registry_base_groupmembership_kinds;
DROP TRIGGER g2p_membership_kind_link_check_update ON g2p_registry_base_groupmembership_kinds;
DROP FUNCTION g2p_membership_kind_link_check();
CREATE FUNCTION g2p_membership_kind_link_check() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM g2p_assert_unique_kind(
        (SELECT group_id FROM g2p_registry_base_groupmembership WHERE id = NEW.groupmembership_id),
        NEW.membershipkind_id);
    RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER g2p_membership_kind_link_check
    AFTER INSERT OR UPDATE ON g2p_registry_base_groupmembership_kinds
    FOR EACH ROW EXECUTE FUNCTION g2p_membership_kind_link_check();

DROP TRIGGER g2p_membership_check_parties_insert ON g2p_registry_base_groupmembership;
DROP TRIGGER g2p_membership_check_parties_update ON g2p_registry_base_groupmembership;
DROP FUNCTION g2p_membership_check_parties();
CREATE FUNCTION g2p_membership_check_parties() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM g2p_registry_base_registrant
                   WHERE id = NEW.group_id AND is_group AND is_registrant) THEN
        RAISE EXCEPTION 'group: registrant % is not a registrant group', NEW.group_id
            USING ERRCODE = 'check_violation', CONSTRAINT = 'membership_group_is_group';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM g2p_registry_base_registrant
                   WHERE id = NEW.individual_id AND NOT is_group AND is_registrant) THEN
        RAISE EXCEPTION 'individual: registrant % is not a registrant individual', NEW.individual_id
            USING ERRCODE = 'check_violation', CONSTRAINT = 'membership_individual_is_individual';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER g2p_membership_check_parties
    BEFORE INSERT OR UPDATE OF group_id, individual_id ON g2p_registry_base_groupmembership
    FOR EACH ROW EXECUTE FUNCTION g2p_membership_check_parties();
"""


class Migration(migrations.Migration):
    dependencies = [
        ("g2p_registry_base", "0004_remove_bank_insert_insert_remove_bank_update_update_and_more")
    ]

    operations = [
        migrations.RunSQL(FORWARD, BACKWARD),
        migrations.RunPython(install_link_triggers, migrations.RunPython.noop),
    ]
