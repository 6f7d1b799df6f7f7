"""The company page: its domains, its leads and the team's recent conversations with them."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from inboxcrm.addresses import unicode_domain
from inboxcrm.db import utcnow
from inboxcrm.errors import DomainError
from inboxcrm.leads.companies import add_domain, company_page, remove_domain
from inboxcrm.leads.models import Company
from inboxcrm.mail.privacy import MailAccess
from inboxcrm.web import db_session, login_required, member, scope

bp = Blueprint("companies", __name__)
# Domains are stored in ASCII (IDNA) and shown as people write them: `münchen.de`.
bp.add_app_template_filter(unicode_domain, "unicode_domain")


def _render(company: Company, status: int = 200, **extra: str) -> tuple[str, int]:
    s = scope()
    page = company_page(s, MailAccess.of(s.session, member()), company)
    return render_template("companies/show.html", page=page, tz=member().timezone, **extra), status


@bp.get("/companies/<int:company_id>")
@login_required
def show(company_id: int) -> tuple[str, int]:
    return _render(scope().get(Company, company_id))


@bp.post("/companies/<int:company_id>/domains")
@login_required
def add(company_id: int) -> Response | tuple[str, int]:
    company = scope().get(Company, company_id)
    raw = request.form.get("domain", "")
    try:
        row = add_domain(scope(), company, raw, utcnow())
    except DomainError as exc:
        db_session().rollback()
        return _render(company, exc.status, domain_text=raw, domain_error=exc.message)
    db_session().commit()
    flash(f"{unicode_domain(row.domain)} added to {company.name}.")
    return redirect(url_for("companies.show", company_id=company.id))


@bp.post("/companies/<int:company_id>/domains/<int:domain_id>/remove")
@login_required
def remove(company_id: int, domain_id: int) -> Response:
    company = scope().get(Company, company_id)
    domain = remove_domain(scope(), company, domain_id)
    db_session().commit()
    flash(f"{unicode_domain(domain)} removed from {company.name}; its leads stay with the company.")
    return redirect(url_for("companies.show", company_id=company.id))
