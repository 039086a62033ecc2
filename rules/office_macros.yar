// Office documents whose VBA macros run by themselves when the document opens or closes.

rule office_auto_executing_macro
{
    meta:
        score = 70
        description = "Office document with an auto-executing VBA macro"
    strings:
        $vba1 = "Attribute VB_Name" ascii nocase
        $vba2 = "_VBA_PROJECT" ascii wide
        $vba3 = "VBA" wide
        $auto1 = "AutoOpen" ascii wide nocase
        $auto2 = "Auto_Open" ascii wide nocase
        $auto3 = "Document_Open" ascii wide nocase
        $auto4 = "Workbook_Open" ascii wide nocase
        $auto5 = "AutoExec" ascii wide nocase
        $auto6 = "Document_Close" ascii wide nocase
        $auto7 = "AutoClose" ascii wide nocase
    condition:
        // An OLE compound file (doc, xls, or the vbaProject.bin inside docm/xlsm).
        uint32be(0) == 0xD0CF11E0 and any of ($vba*) and any of ($auto*)
}
