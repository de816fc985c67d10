"""Names and texts for the synthetic demo data (``pta demo load``): common given names and
surnames of El Salvador, Honduras and Guatemala, and the stock phrases officers write. Every
person built from them is invented."""

from __future__ import annotations


def _names(text: str) -> tuple[str, ...]:
    return tuple(name.strip() for name in text.split(","))


#: Given names of adults (born before about 1998).
ADULT_FEMALE = _names(
    "María, Ana, Rosa, Carmen, Gloria, Blanca, Marta, Sandra, Karla, Claudia, Wendy, Yesenia, "
    "Lorena, Sonia, Reina, Delmy, Glenda, Yolanda, Xiomara, Iris, Evelyn, Ingrid, Mayra, "
    "Brenda, Daysi, Marisol, Gabriela, Nancy, Lesly, Jacqueline, Fátima, Roxana, Elsa, Doris, "
    "Silvia, Patricia, Milagro, Morena, Dinora, Keila, Suyapa, Olga, Berta, Marleny, Vilma, "
    "Cecilia, María José, Ana Gabriela, Rosa Elena, María de los Ángeles, Ana Cecilia"
)

ADULT_MALE = _names(
    "José, Juan, Carlos, Luis, Jorge, Mario, Óscar, Francisco, Miguel, Manuel, Santos, "
    "Wilfredo, Nelson, Walter, Edwin, Elmer, Marvin, Selvin, Byron, Denis, Darwin, Cristian, "
    "Jonathan, Alexander, Fredy, Héctor, Rigoberto, Ángel, Douglas, René, Roberto, Ricardo, "
    "Víctor, Julio, Mauricio, Salvador, Osmin, Wilmer, Germán, Ramón, Pedro, Hugo, Erick, "
    "Josué, Kevin, José Luis, Juan Carlos, Carlos Alberto, José Antonio, Luis Alonso"
)

#: Given names of children and young people (born since about 1998).
YOUNG_FEMALE = _names(
    "Emily, Génesis, Dayana, Allison, Ashley, Valeria, Camila, Nicole, Katherine, Jimena, "
    "Sofía, Britany, Daniela, Fernanda, Alejandra, Melany, Yaritza, Kimberly, Andrea, "
    "Isabella, Paola, Naomi, Abigail, Heidy, Tatiana, Sara, Keyla, Astrid, Lizbeth, Mía"
)

YOUNG_MALE = _names(
    "Kevin, Brayan, Jefferson, Anderson, Dylan, Mateo, Santiago, Josué, Eduardo, Gerson, "
    "Jonathan, Bryan, Jairo, Kenneth, Ángel, Diego, Daniel, Steven, Alexis, Axel, Isaac, "
    "Emanuel, Moisés, Cristopher, Franklin, Elías, Joel, Samuel, Adonay, Gael"
)

COMMON_SURNAMES = _names(
    "Hernández, López, Martínez, García, Rodríguez, Pérez, Ramírez, Flores, Cruz, Reyes, "
    "Mejía, Rivera, Romero, Sánchez, Gómez, Díaz, Castillo, Morales, Aguilar, Ortiz, Vásquez, "
    "Alvarado, Guzmán, Chávez, Ramos, Torres, Mendoza, Molina, Rosales, Castro, Gutiérrez, "
    "Salazar, Velásquez"
)

#: Surnames more frequent in one country than in the others.
LOCAL_SURNAMES: dict[str, tuple[str, ...]] = {
    "SLV": _names(
        "Menjívar, Portillo, Orellana, Argueta, Ayala, Alvarenga, Quintanilla, Escobar, Guardado, "
        "Henríquez, Amaya, Serrano, Cornejo, Rivas, Landaverde"
    ),
    "HND": _names(
        "Zelaya, Maradiaga, Banegas, Cálix, Aguilera, Funes, Bustillo, Matamoros, Cáceres, "
        "Bonilla, Osorto, Zúniga, Paz, Midence, Lagos"
    ),
    "GTM": _names(
        "Ajú, Xoc, Tzul, Girón, Juárez, Estrada, Cojtí, Quiñónez, Yax, Pirir, Chitay, Tum, "
        "Barrios, Orozco, Monterroso"
    ),
}


REFERRAL_SOURCES: dict[str, tuple[str, ...]] = {
    "SLV": (
        "UNHCR protection monitoring, San Salvador",
        "Partner NGO referral, San Salvador",
        "Community outreach in Soyapango",
        "Referral by the Office of the Human Rights Ombudsperson",
        "Self-referral at the UNHCR office",
        "Protection network in San Miguel",
    ),
    "HND": (
        "UNHCR protection monitoring, Tegucigalpa",
        "Partner NGO referral, San Pedro Sula",
        "Community outreach in Choloma",
        "Referral by the National Human Rights Commissioner",
        "Self-referral at the UNHCR office",
        "Church protection network, La Ceiba",
    ),
    "GTM": (
        "UNHCR protection monitoring, Guatemala City",
        "Partner NGO referral, Guatemala City",
        "Community outreach in Villa Nueva",
        "Referral by the Human Rights Ombudsperson's office",
        "Self-referral at the UNHCR office",
        "Shelter referral, Quetzaltenango",
    ),
}

#: One sentence per primary submission category.
PROTECTION_SUMMARIES: dict[str, tuple[str, ...]] = {
    "legal_physical_protection_needs": (
        "Household threatened by a criminal gang after refusing to pay extortion; internal "
        "relocation attempted without success.",
        "Principal applicant targeted after witnessing a homicide; threats continued after "
        "two moves within the country.",
        "Family member killed by a gang; the household received death threats and fled "
        "their neighbourhood.",
        "Small business owner under sustained extortion; threats extended to the children.",
    ),
    "survivors_violence_torture": (
        "Principal applicant survived abduction and torture by a criminal group; ongoing "
        "psychological care needed.",
        "Survivor of sexual violence by gang members; perpetrators remain in the area.",
    ),
    "women_girls_at_risk": (
        "Woman at risk of gender-based violence after leaving a partner linked to a gang; "
        "protection orders not enforced.",
        "Adolescent daughter pressured to become a gang member's partner; family threatened "
        "after refusing.",
    ),
    "children_adolescents_at_risk": (
        "Adolescent son under pressure of forced recruitment by a gang; school attendance stopped.",
        "Children threatened at school after the family refused gang demands.",
    ),
    "medical_needs": (
        "Household member with a serious medical condition needing treatment unavailable "
        "while the family is displaced.",
    ),
    "family_reunification": (
        "Close family members already resettled; the household remains at risk in the "
        "country of origin.",
    ),
    "lack_of_alternative_durable_solutions": (
        "No safe internal relocation alternative; the household has been displaced several times.",
    ),
}

RETURN_REASONS = (
    "Family composition to be verified.",
    "Risk assessment incomplete.",
    "Supporting documents missing.",
    "Interview notes to be completed.",
)
ON_HOLD_REASONS = (
    "Additional security checks pending.",
    "Medical examination requested.",
    "Clarification of family composition requested.",
    "Awaiting the results of the second interview.",
)
DENIAL_REASONS = (
    "Does not meet the state's admissibility criteria.",
    "Security grounds.",
    "Credibility concerns raised at interview.",
    "Annual quota reached for this profile.",
)
REFUSAL_REASONS = (
    "Travel documents incomplete.",
    "Security screening still pending.",
)
AUTHORISATION_NOTES = (
    "Authorised under the PTA quota.",
    "Cleared by migration authority.",
)
INFORMATION_QUESTIONS = (
    "Please confirm the relationship of each child to the principal applicant.",
    "Please provide the medical assessment mentioned in the RRF.",
    "Please clarify the dates of the incidents described.",
    "Are there family members in the country of origin who share the risk?",
    "Please confirm the identity documents each member holds.",
)
INFORMATION_ANSWERS = (
    "Confirmed with the family at the interview; details added to the RRF.",
    "The assessment is attached to the updated RRF.",
    "Dates confirmed against the protection interview notes.",
    "No other family members share the risk; see the updated RRF.",
    "Documents verified at the UNHCR office; copies on file.",
)
WAIVER_NOTES = (
    "Orientation given in the resettlement country on arrival.",
    "Urgent departure: orientation after arrival.",
)
REOPEN_REASONS = (
    "Contact re-established with the household.",
    "Household re-registered with UNHCR and still at risk.",
)
CLOSURE_NOTES: dict[str, str] = {
    "not_recommended": "Assessment does not support a resettlement submission.",
    "lost_contact": "No answer to calls or visits for three months.",
    "onward_movement": "Household left on its own towards a third country.",
    "no_longer_at_risk": "Risk factors no longer present.",
    "transit_expired": "Authorised stay expired without extension.",
    "other": "Closed after case review.",
}
