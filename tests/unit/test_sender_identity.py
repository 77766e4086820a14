"""CreateSenderIdentity: the stack can create the sending domain's SES identity with Easy DKIM, and then
says which DNS records to publish; by default it creates nothing (the identity usually exists)."""

from __future__ import annotations

from local_stack.emulator.cfn import load_template
from local_stack.emulator.stack import TEMPLATE_PATH

TEMPLATE = load_template(TEMPLATE_PATH)


def test_the_identity_is_created_only_when_asked_with_2048_bit_easy_dkim_and_outlives_the_stack() -> None:
    assert TEMPLATE["Parameters"]["CreateSenderIdentity"]["Default"] == "false"
    assert TEMPLATE["Conditions"]["CreatesSenderIdentity"] == {
        "Fn::Equals": [{"Ref": "CreateSenderIdentity"}, "true"]
    }
    identity = TEMPLATE["Resources"]["SenderEmailIdentity"]
    assert identity["Condition"] == "CreatesSenderIdentity"
    # Kept when the stack goes, unless the deploy that created it rolls back (a retry would collide).
    assert identity["DeletionPolicy"] == "RetainExceptOnCreate"
    assert identity["UpdateReplacePolicy"] == "Retain"
    properties = identity["Properties"]
    assert properties["EmailIdentity"] == {"Ref": "SenderIdentity"}
    assert properties["DkimSigningAttributes"] == {"NextSigningKeyLength": "RSA_2048_BIT"}
    assert properties["DkimAttributes"] == {"SigningEnabled": True}


def test_the_outputs_name_the_three_dkim_cname_records_under_the_same_condition() -> None:
    for n in (1, 2, 3):
        output = TEMPLATE["Outputs"][f"SenderDkimRecord{n}"]
        assert output["Condition"] == "CreatesSenderIdentity"
        assert output["Value"] == {
            "Fn::Sub": f"${{SenderEmailIdentity.DkimDNSTokenName{n}}} CNAME "
            f"${{SenderEmailIdentity.DkimDNSTokenValue{n}}}"
        }
