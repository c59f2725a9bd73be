"""Install the audit triggers of the two link tables, and tighten two membership rules.

- Audit of membership roles and registrant tags: the link tables are Django's auto-created
  ``through`` models, which migrations never carry triggers for, so the pghistory triggers
  registered on them in ``models.py`` were never installed (``manage.py pgtrigger ls`` showed
  them UNINSTALLED). Install them here from the registered definitions.
- A unique kind ("Head") is held by one *current* membership per group, "current" as
  everywhere else: no end date, or an end date still ahead. A head whose end date is in the
  future keeps the role until that date passes (it still counts as a member and reads
  "active"); the check uses clock_timestamp() so that a head ended earlier in the same
  transaction has handed over. Holders only ever leave the current set as time passes, so a
  check made at write time stays true afterwards.
- Memberships join a registrant group to a registrant individual whichever row changes: a
  registrant with memberships cannot become a group / an individual / a non-registrant.
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


def uninstall_link_triggers(apps, schema_editor):
    import pgtrigger

    pgtrigger.uninstall(*LINK_TRIGGERS, database=schema_editor.connection.alias)


FORWARD = r"""
CREATE OR REPLACE FUNCTION g2p_assert_unique_kind(p_group bigint, p_kind bigint) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_name text;
BEGIN
    SELECT name INTO v_name FROM g2p_registry_base_membershipkind WHERE id = p_kind AND is_unique;
    IF v_name IS NULL THEN
        RETURN;
    END IF;
    PERFORM 1 FROM g2p_registry_base_registrant WHERE id = p_group FOR UPDATE;
    -- Current = no end date, or an end date still ahead (clock_timestamp(), not now(): a
    -- membership ended earlier in the same transaction has ended).
    -- A scalar subquery per membership of the group (index on group_id, then the link
    -- table's (membership, kind) unique index). A join, or an EXISTS the planner turns into
    -- one, plans badly when the link table was small at plan time and makes a bulk import of
    -- heads quadratic.
    IF (SELECT count(*) FROM g2p_registry_base_groupmembership m
         WHERE m.group_id = p_group
           AND (m.ended_date IS NULL OR m.ended_date > clock_timestamp())
           AND (SELECT true FROM g2p_registry_base_groupmembership_kinds l
                 WHERE l.groupmembership_id = m.id AND l.membershipkind_id = p_kind)) > 1 THEN
        RAISE EXCEPTION 'kinds: Only one % is allowed per group', v_name
            USING ERRCODE = 'unique_violation', CONSTRAINT = 'membership_unique_kind_per_group';
    END IF;
END $$;

CREATE OR REPLACE FUNCTION g2p_membership_reopen_check() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    v_kind bigint;
BEGIN
    IF NEW.ended_date IS NOT NULL AND NEW.ended_date <= clock_timestamp() THEN
        RETURN NULL;
    END IF;
    FOR v_kind IN SELECT membershipkind_id FROM g2p_registry_base_groupmembership_kinds
                   WHERE groupmembership_id = NEW.id LOOP
        PERFORM g2p_assert_unique_kind(NEW.group_id, v_kind);
    END LOOP;
    RETURN NULL;
END $$;

DROP TRIGGER g2p_membership_reopen_check ON g2p_registry_base_groupmembership;
CREATE CONSTRAINT TRIGGER g2p_membership_reopen_check
    AFTER UPDATE OF group_id, ended_date ON g2p_registry_base_groupmembership
    FOR EACH ROW EXECUTE FUNCTION g2p_membership_reopen_check();

CREATE OR REPLACE FUNCTION g2p_membershipkind_guard() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    v_group bigint;
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF OLD.protected THEN
            RAISE EXCEPTION 'Can''t delete default kinds'
                USING ERRCODE = 'integrity_constraint_violation', CONSTRAINT = 'membershipkind_protected';
        END IF;
        RETURN OLD;
    END IF;
    IF OLD.protected AND (NEW.name IS DISTINCT FROM OLD.name OR NEW.is_unique IS DISTINCT FROM OLD.is_unique
                          OR NOT NEW.protected) THEN
        RAISE EXCEPTION 'Can''t edit default kinds'
            USING ERRCODE = 'integrity_constraint_violation', CONSTRAINT = 'membershipkind_protected';
    END IF;
    IF NEW.is_unique AND NOT OLD.is_unique THEN
        SELECT m.group_id INTO v_group
          FROM g2p_registry_base_groupmembership_kinds l
          JOIN g2p_registry_base_groupmembership m ON m.id = l.groupmembership_id
         WHERE l.membershipkind_id = NEW.id AND (m.ended_date IS NULL OR m.ended_date > clock_timestamp())
         GROUP BY m.group_id HAVING count(*) > 1 LIMIT 1;
        IF v_group IS NOT NULL THEN
            RAISE EXCEPTION 'is_unique: group % already has several members of kind %', v_group, NEW.name
                USING ERRCODE = 'unique_violation', CONSTRAINT = 'membership_unique_kind_per_group';
        END IF;
    END IF;
    RETURN NEW;
END $$;

CREATE FUNCTION g2p_registrant_type_change_check() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.is_group IS DISTINCT FROM OLD.is_group OR NEW.is_registrant IS DISTINCT FROM OLD.is_registrant THEN
        IF EXISTS (SELECT 1 FROM g2p_registry_base_groupmembership
                    WHERE group_id = NEW.id OR individual_id = NEW.id) THEN
            RAISE EXCEPTION 'is_group: registrant % has group memberships; end and remove them first', NEW.id
                USING ERRCODE = 'check_violation', CONSTRAINT = 'registrant_type_fixed_while_member';
        END IF;
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER g2p_registrant_type_change_check
    BEFORE UPDATE OF is_group, is_registrant ON g2p_registry_base_registrant
    FOR EACH ROW EXECUTE FUNCTION g2p_registrant_type_change_check();
"""

BACKWARD = r"""
DROP TRIGGER IF EXISTS g2p_registrant_type_change_check ON g2p_registry_base_registrant;
DROP FUNCTION IF EXISTS g2p_registrant_type_change_check();
"""


class Migration(migrations.Migration):
    dependencies = [("g2p_registry_base", "0002_rules_and_seed")]

    operations = [
        migrations.RunPython(install_link_triggers, uninstall_link_triggers),
        migrations.RunSQL(FORWARD, BACKWARD),
    ]
